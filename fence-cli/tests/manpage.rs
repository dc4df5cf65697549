//! `fence-agent man NAME`: a man page per agent name that groff renders without a
//! warning and man-db indexes, holding every parameter the agent's metadata offers.

mod common;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use common::{AGENTS, bin};

fn man(args: &[&str]) -> Output {
    Command::new(bin())
        .arg("man")
        .args(args)
        .output()
        .expect("run fence-agent man")
}

/// Pipes `page` through `program args` (groff, lexgrog); returns its output.
fn through(program: &str, args: &[&str], page: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{program} is missing ({e}): apt-get install groff-base man-db")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(page)
        .expect("write page");
    child.wait_with_output().expect("wait")
}

/// The parameter names of `-o metadata`, read off the XML.
fn metadata_params(invoked: &str) -> Vec<String> {
    let out = Command::new(bin())
        .args([invoked, "-o", "metadata"])
        .output()
        .expect("metadata");
    String::from_utf8_lossy(&out.stdout)
        .split("<parameter name=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next().map(str::to_owned))
        .collect()
}

#[test]
fn every_agent_has_a_page_groff_renders_without_warnings() {
    for agent in AGENTS {
        let invoked = agent.replacen("fence_", "fence_rs_", 1);
        let out = man(&[&invoked]);
        assert!(out.status.success(), "{invoked}: {out:?}");
        let page = out.stdout;
        let text = String::from_utf8_lossy(&page);
        assert!(
            text.starts_with(&format!(
                ".TH {} 8 ",
                invoked.to_uppercase().replace('-', "\\-")
            )),
            "{text}"
        );
        // -ww: every warning; -z: no output, only the diagnostics.
        let groff = through("groff", &["-man", "-Tutf8", "-ww", "-z"], &page);
        assert!(
            groff.status.success() && groff.stderr.is_empty(),
            "{invoked}: groff says {}",
            String::from_utf8_lossy(&groff.stderr)
        );
        let rendered = through("groff", &["-man", "-Tascii", "-P-cbou"], &page);
        let rendered = String::from_utf8_lossy(&rendered.stdout);
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "PARAMETERS",
            "ACTIONS",
            "STDIN PARAMETERS",
            "EXIT STATUS",
        ] {
            assert!(
                rendered.contains(&format!("\n{section}\n")),
                "{invoked}: no {section}:\n{rendered}"
            );
        }
        let stdin_part = rendered
            .split("\nSTDIN PARAMETERS\n")
            .nth(1)
            .unwrap_or_default();
        let params = metadata_params(&invoked);
        assert!(params.len() > 10, "{invoked}: {params:?}");
        for p in params {
            assert!(
                stdin_part.lines().any(|l| {
                    let l = l.trim();
                    l == p || l.starts_with(&format!("{p} "))
                }),
                "{invoked}: parameter {p} is not on the page"
            );
        }
        assert!(rendered.contains("--action=[action]"), "{invoked}");
    }
}

#[test]
fn man_db_reads_the_name_line() {
    let dir = common::temp_dir("manpage");
    let page = dir.join("fence_rs_ipmilan.8");
    std::fs::write(&page, man(&["fence_rs_ipmilan"]).stdout).expect("write");
    let out = Command::new("lexgrog")
        .arg(&page)
        .output()
        .expect("lexgrog (man-db)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fence_rs_ipmilan - Fence agent for IPMI"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_program_has_a_page_and_an_unknown_name_fails_clearly() {
    let out = man(&[]);
    assert!(out.status.success());
    let page = out.stdout;
    assert!(String::from_utf8_lossy(&page).starts_with(".TH FENCE\\-AGENT 8 "));
    let groff = through("groff", &["-man", "-Tutf8", "-ww", "-z"], &page);
    assert!(
        groff.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&groff.stderr)
    );
    let out = man(&["fence_apc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Failed: man: unknown agent"));
}
