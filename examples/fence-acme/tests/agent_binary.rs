//! The vendor's own agent binary speaks the fence-agents protocol through fence-cli's
//! library: metadata, status, off and a wrong password, against the simulated board.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use fence_acme::sim::AcmeSim;

fn agent(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fence-acme-agent"))
        .args(args)
        .env_remove("PCMK_service")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn lines(action: &str, port: u16, password: &str) -> String {
    format!(
        "action={action}\nip=127.0.0.1\nipport={port}\nusername=admin\npassword={password}\n\
         power_wait=0\n"
    )
}

#[test]
fn metadata_and_agent_list_come_from_the_descriptor() {
    let (code, out, err) = agent(&["fence_acme", "-o", "metadata"], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "<resource-agent name=\"fence_acme\" shortdesc=\"Fence agent for ACME power boards\" >"
        ),
        "{out}"
    );
    assert!(
        out.contains("fence_acme is a Power Fencing agent for ACME power boards"),
        "{out}"
    );
    assert!(
        out.contains("<vendor-url>https://acme.invalid/</vendor-url>"),
        "{out}"
    );
    assert!(out.contains("name=\"ipport\""), "{out}");
    assert!(!out.contains("<action name=\"diag\""), "{out}");
    let (code, out, _) = agent(&["--list-agents"], "");
    assert_eq!((code, out.as_str()), (0, "fence_acme\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_off_and_a_wrong_password() {
    let sim = AcmeSim::start("admin", "s3cret", Duration::from_millis(50))
        .await
        .unwrap();
    let port = sim.addr.port();
    let run = |action: &'static str, pw: &'static str| {
        tokio::task::spawn_blocking(move || agent(&["fence_acme"], &lines(action, port, pw)))
    };
    let (code, out, err) = run("status", "s3cret").await.unwrap();
    assert_eq!((code, out.trim()), (0, "Status: ON"), "{err}");
    let (code, out, err) = run("off", "s3cret").await.unwrap();
    assert_eq!((code, out.trim()), (0, "Success: Powered OFF"), "{err}");
    assert!(!sim.is_on(), "the board is still on");
    let (code, out, err) = run("status", "nope").await.unwrap();
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("Failed: "), "{err}");
    assert!(!err.contains("nope"), "{err}");
}
