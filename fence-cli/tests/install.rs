//! `fence-agent install` and `uninstall`: the executable is copied (an installed agent
//! survives the build folder), one relative link per agent name, a foreign file is never
//! replaced without --force and is restored by uninstall, and uninstall removes exactly
//! what install made.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{AGENTS, bin, temp_dir};

fn run(exe: &Path, verb: &str, args: &[&str]) -> Output {
    Command::new(exe)
        .arg(verb)
        .args(args)
        .output()
        .expect("run fence-agent")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every entry of `dir`: name -> "link TARGET" or "file SIZE MODE" (hidden files included).
fn listing(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let e = e.expect("entry");
            let path = e.path();
            let meta = path.symlink_metadata().expect("meta");
            let what = if meta.file_type().is_symlink() {
                format!(
                    "link {}",
                    std::fs::read_link(&path).expect("link").display()
                )
            } else {
                format!(
                    "file {} {:o} {:?}",
                    meta.len(),
                    meta.permissions().mode() & 0o7777,
                    std::fs::read(&path).ok().map(|b| b.len())
                )
            };
            (e.file_name().to_string_lossy().into_owned(), what)
        })
        .collect()
}

/// A copy of the built binary in a folder of its own, standing for a build folder that
/// `cargo clean` removes.
fn build_folder(tag: &str) -> (PathBuf, PathBuf) {
    let dir = temp_dir(tag);
    let exe = dir.join("fence-agent");
    std::fs::copy(bin(), &exe).expect("copy binary");
    (dir, exe)
}

#[test]
fn install_copies_the_executable_and_links_every_agent_name_to_the_copy() {
    let (build, exe) = build_folder("install-build");
    let dir = temp_dir("install");
    let d = dir.display().to_string();
    let printed = ok(&run(&exe, "install", &["--dir", &d]));
    assert!(printed.contains("(copy of "), "{printed}");
    let copy = dir.join("fence-agent");
    let meta = copy.symlink_metadata().expect("the copy");
    assert!(meta.file_type().is_file(), "a copy, not a link");
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    assert_eq!(
        std::fs::read(&copy).expect("read copy"),
        std::fs::read(bin()).expect("read binary")
    );
    // The build folder goes away (cargo clean); every installed name still works.
    std::fs::remove_dir_all(&build).expect("remove build folder");
    for agent in AGENTS {
        let name = agent.replacen("fence_", "fence_rs_", 1);
        let link = dir.join(&name);
        assert_eq!(
            std::fs::read_link(&link).expect("a link"),
            Path::new("fence-agent"),
            "{name} is a relative link to the copy"
        );
        let out = Command::new(&link)
            .args(["-o", "metadata"])
            .output()
            .expect("run");
        let xml = String::from_utf8_lossy(&out.stdout);
        assert!(
            xml.contains(&format!("<resource-agent name=\"{name}\" ")),
            "{xml}"
        );
    }
    // Again from the copy itself: nothing to copy, every link already there.
    let again = ok(&run(&copy, "install", &["--dir", &d]));
    assert!(!again.contains("copy of"), "{again}");
    assert_eq!(
        again.matches("(already there)").count(),
        AGENTS.len(),
        "{again}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn uninstall_removes_exactly_what_install_made_and_restores_what_force_replaced() {
    let dir = temp_dir("install-force");
    let d = dir.display().to_string();
    let foreign = dir.join("fence_ipmilan");
    std::fs::write(&foreign, "#!/bin/sh\necho python agent\n").expect("write");
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(dir.join("unrelated"), "x").expect("write");
    let before = listing(&dir);

    let out = run(&bin(), "install", &["--dir", &d, "--prefix", "fence_"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Failed: ") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(listing(&dir), before, "a refusal changes nothing");

    let printed = ok(&run(
        &bin(),
        "install",
        &["--dir", &d, "--prefix", "fence_", "--force"],
    ));
    assert!(printed.contains("kept as"), "{printed}");
    assert_eq!(
        std::fs::read_link(&foreign).expect("now ours"),
        Path::new("fence-agent")
    );
    // Our own names too, and the alert agent: one copy serves all of them.
    ok(&run(&bin(), "install", &["--dir", &d]));
    ok(&run(&bin(), "install-alert", &["--dir", &d]));

    // Uninstalling one prefix leaves the other and the copy.
    let printed = ok(&run(
        &bin(),
        "uninstall",
        &["--dir", &d, "--prefix", "fence_rs_"],
    ));
    assert!(printed.contains("fence_rs_ipmilan"), "{printed}");
    assert!(dir.join("fence-agent").exists());
    assert!(dir.join("fence_ipmilan").symlink_metadata().is_ok());
    assert!(dir.join("fence_rs_alert").symlink_metadata().is_ok());
    let printed = ok(&run(&bin(), "uninstall", &["--dir", &d]));
    assert!(printed.contains("restored"), "{printed}");
    assert_eq!(
        listing(&dir),
        before,
        "back to what was there before install"
    );
    assert_eq!(
        std::fs::read_to_string(&foreign).expect("restored"),
        "#!/bin/sh\necho python agent\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_binary_that_install_did_not_make_is_not_replaced_without_force() {
    // A package's /usr/sbin/fence-agent, say: ours to replace only with --force, and back
    // after uninstall.
    let dir = temp_dir("install-packaged");
    let d = dir.display().to_string();
    let packaged = dir.join("fence-agent");
    std::fs::write(&packaged, "packaged binary").expect("write");
    let before = listing(&dir);
    let out = run(&bin(), "install", &["--dir", &d]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fence-agent") && err.contains("not made by install"),
        "{err}"
    );
    assert_eq!(listing(&dir), before);
    let printed = ok(&run(&bin(), "install", &["--dir", &d, "--force"]));
    assert!(printed.contains("kept as"), "{printed}");
    assert_eq!(
        std::fs::read(&packaged).expect("copy"),
        std::fs::read(bin()).expect("binary")
    );
    ok(&run(&bin(), "uninstall", &["--dir", &d]));
    assert_eq!(listing(&dir), before);
    assert_eq!(
        std::fs::read_to_string(&packaged).expect("back"),
        "packaged binary"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn uninstall_leaves_a_link_that_someone_changed() {
    let dir = temp_dir("install-changed");
    let d = dir.display().to_string();
    ok(&run(&bin(), "install", &["--dir", &d]));
    let changed = dir.join("fence_rs_vbox");
    std::fs::remove_file(&changed).expect("rm");
    std::fs::write(&changed, "mine").expect("write");
    let printed = ok(&run(&bin(), "uninstall", &["--dir", &d]));
    assert!(printed.contains("left "), "{printed}");
    assert_eq!(std::fs::read_to_string(&changed).expect("kept"), "mine");
    let left: Vec<String> = listing(&dir).into_keys().collect();
    assert_eq!(
        left,
        ["fence_rs_vbox"],
        "everything else of install is gone"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_prefix_pacemaker_would_not_list_is_refused() {
    let dir = temp_dir("install-prefix");
    let d = dir.display().to_string();
    let out = run(&bin(), "install", &["--dir", &d, "--prefix", "rs_"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Failed: "));
    assert!(listing(&dir).is_empty());
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
