//! `fence-agent install` and the persona names: links are made under our own prefix,
//! never replace a foreign file without --force, and each link behaves as its agent.

mod common;

use std::process::Command;

use common::{AGENTS, bin, temp_dir};

fn install(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("install")
        .args(args)
        .output()
        .expect("run install")
}

#[test]
fn install_creates_prefixed_links_that_act_as_their_agent() {
    let dir = temp_dir("install");
    let d = dir.display().to_string();
    let out = install(&["--dir", &d]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exe = bin().canonicalize().expect("exe");
    for agent in AGENTS {
        let link = dir.join(agent.replacen("fence_", "fence_rs_", 1));
        assert_eq!(
            link.canonicalize().expect("link"),
            exe,
            "{}",
            link.display()
        );
        let out = Command::new(&link)
            .arg("-o")
            .arg("metadata")
            .output()
            .expect("run");
        let xml = String::from_utf8_lossy(&out.stdout);
        let name = link
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(
            xml.contains(&format!("<resource-agent name=\"{name}\" ")),
            "{xml}"
        );
    }
    // Running it again is fine (our own links).
    assert!(install(&["--dir", &d]).status.success());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn install_refuses_to_replace_a_foreign_file_without_force() {
    let dir = temp_dir("install-force");
    let d = dir.display().to_string();
    let foreign = dir.join("fence_ipmilan");
    std::fs::write(&foreign, "#!/bin/sh\necho python agent\n").expect("write");
    let out = install(&["--dir", &d, "--prefix", "fence_"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(
        std::fs::read_to_string(&foreign).expect("still there"),
        "#!/bin/sh\necho python agent\n"
    );
    let out = install(&["--dir", &d, "--prefix", "fence_", "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        foreign
            .symlink_metadata()
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    // A prefix Pacemaker would not list is refused.
    let out = install(&["--dir", &d, "--prefix", "rs_"]);
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn list_agents_and_unknown_agent() {
    let out = Command::new(bin())
        .arg("--list-agents")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text.lines().collect();
    assert_eq!(names, AGENTS);
    let out = Command::new(bin()).arg("fence_apc").output().expect("run");
    assert_eq!(out.status.code(), Some(1));
}
