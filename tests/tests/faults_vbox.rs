//! fence_vbox (the fence-agent binary) against a misbehaving SSH host: the private sshd
//! peer (`SSH_PORT`, `PEERS_DIR`) behind TCP relays that accept and never speak, stall or
//! cut the connection, a VBoxManage that never returns (a stall after login), wrong
//! credentials and a changed host key. Every failure is exit 1 with fence_vbox's
//! "Unable to connect/login to fencing device" within a stated bound.
#![allow(clippy::unwrap_used)]

mod fault_kit;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use fault_kit::{assert_failed, cli, strings, temp_dir, with};
use fence_test_support::relay::{TcpFault, TcpRelay};
use fence_tests::{peer_port, peers_dir};

/// Slack for process start and scheduling on a loaded 2-core CI machine.
const SLACK: Duration = Duration::from_millis(1500);
const LOGIN_DENIED: &str = "Unable to connect/login to fencing device";

fn sshd() -> SocketAddr {
    ([127, 0, 0, 1], peer_port("SSH_PORT")).into()
}

/// fence_vbox's arguments for `vm1` through `port`, with a private known_hosts file.
fn vbox_args(action: &str, port: u16, password: &str, known_hosts: &Path) -> Vec<String> {
    strings(&[
        "-o",
        action,
        "-a",
        "127.0.0.1",
        "-u",
        &port.to_string(),
        "-l",
        "fenceuser",
        "-p",
        password,
        "-n",
        "vm1",
        "--ssh-known-hosts-file",
        &known_hosts.display().to_string(),
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_that_accepts_and_never_speaks_fails_within_login_timeout() {
    let dir = temp_dir("vbox-silent");
    let relay = TcpRelay::start(sshd(), TcpFault::Silent).await.unwrap();
    let args = with(
        vbox_args("off", relay.port(), "password", &dir.join("kh")),
        &["--login-timeout=2"],
    );
    let run = cli("fence_vbox", args).await;
    assert_failed(&run, LOGIN_DENIED, Duration::from_secs(2) + SLACK);
    assert!(run.stderr.contains("login_timeout"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_that_stalls_during_the_handshake_fails_within_login_timeout() {
    let dir = temp_dir("vbox-stall");
    // The server's banner and key exchange start, then nothing more.
    for stall in [30, 600] {
        let relay = TcpRelay::start(sshd(), TcpFault::StallAfter(stall))
            .await
            .unwrap();
        let args = with(
            vbox_args("status", relay.port(), "password", &dir.join("kh")),
            &["--login-timeout=2"],
        );
        let run = cli("fence_vbox", args).await;
        assert_failed(&run, LOGIN_DENIED, Duration::from_secs(2) + SLACK);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_never_returns_fails_within_shell_timeout() {
    let dir = temp_dir("vbox-slowcmd");
    let script = dir.join("VBoxManage-hangs");
    std::fs::write(&script, "#!/bin/sh\nsleep 30\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let script = script.display().to_string();
    for (action, shell_timeout) in [("off", 2u64), ("status", 3)] {
        let args = with(
            vbox_args(action, peer_port("SSH_PORT"), "password", &dir.join("kh")),
            &[
                "--vboxmanage-path",
                &script,
                &format!("--shell-timeout={shell_timeout}"),
            ],
        );
        let run = cli("fence_vbox", args).await;
        // Login (well under 1 s here), the command's shell_timeout, about 1 s to give up
        // the channel and session.
        assert_failed(
            &run,
            "did not finish within",
            Duration::from_secs(shell_timeout + 1) + SLACK,
        );
        assert!(
            run.elapsed >= Duration::from_secs(shell_timeout),
            "{:?}",
            run.elapsed
        );
        assert!(run.stderr.contains(LOGIN_DENIED), "{}", run.all());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_cut_in_the_middle_fails_clearly() {
    let dir = temp_dir("vbox-cut");
    let kh = dir.join("kh");
    let whole = TcpRelay::start(sshd(), TcpFault::Forward).await.unwrap();
    let run = cli(
        "fence_vbox",
        vbox_args("status", whole.port(), "password", &kh),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.all());
    let total = whole.counts().down;
    assert!(total > 1000, "{total} bytes");
    for cut in [total / 4, total / 2, total * 3 / 4, total - 30] {
        let relay = TcpRelay::start(sshd(), TcpFault::CutAfter(cut))
            .await
            .unwrap();
        let run = cli(
            "fence_vbox",
            vbox_args("status", relay.port(), "password", &kh),
        )
        .await;
        if run.code == 0 {
            // Cut after the answer (the goodbye): the status is known.
            assert_eq!(run.stdout, "Status: ON\n", "{}", run.all());
            assert!(cut > total / 2, "cut at {cut} of {total}:\n{}", run.all());
        } else {
            assert_failed(&run, "Failed:", Duration::from_secs(5) + SLACK);
            assert!(
                run.stderr.contains("127.0.0.1:"),
                "names the host:\n{}",
                run.all()
            );
            assert!(!run.stdout.contains("Status"), "{}", run.all());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_fail_fast_as_a_login_failure() {
    let dir = temp_dir("vbox-creds");
    let run = cli(
        "fence_vbox",
        vbox_args(
            "off",
            peer_port("SSH_PORT"),
            "not-the-password",
            &dir.join("kh"),
        ),
    )
    .await;
    assert_failed(&run, LOGIN_DENIED, Duration::from_secs(3) + SLACK);
    assert!(!run.stderr.contains("not-the-password"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_host_key_is_refused_before_anything_runs() {
    let dir = temp_dir("vbox-hostkey");
    let port = peer_port("SSH_PORT");
    // Another ed25519 key (the peer's client key) recorded for [127.0.0.1]:port.
    let other = std::fs::read_to_string(peers_dir().join("ssh/client_ed25519.pub")).unwrap();
    let other_b64 = other.split_whitespace().nth(1).unwrap();
    let kh = dir.join("known_hosts");
    let line = format!("[127.0.0.1]:{port} ssh-ed25519 {other_b64}\n");
    std::fs::write(&kh, &line).unwrap();
    for action in ["off", "status"] {
        let run = cli("fence_vbox", vbox_args(action, port, "password", &kh)).await;
        assert_failed(&run, "host key changed", SLACK);
        assert!(run.stderr.contains(LOGIN_DENIED), "{}", run.all());
    }
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        line,
        "known_hosts untouched"
    );
    // Strict checking refuses an unknown host too.
    let run = cli(
        "fence_vbox",
        with(
            vbox_args("status", port, "password", &dir.join("empty")),
            &["--ssh-host-key-check=strict"],
        ),
    )
    .await;
    assert_failed(&run, LOGIN_DENIED, SLACK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_that_accepts_poweroff_and_keeps_the_vm_running_times_out() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("vbox-lie");
    // Every command goes to the fake VBoxManage, except controlvm: "done", and nothing done.
    let script = dir.join("VBoxManage-lies");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = controlvm ] && exit 0\nexec VBoxManage \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = script.display().to_string();
    for action in ["off", "reboot"] {
        let args = with(
            vbox_args(action, peer_port("SSH_PORT"), "password", &dir.join("kh")),
            &["--vboxmanage-path", &script, "--power-timeout=3"],
        );
        let run = cli("fence_vbox", args).await;
        assert_failed(
            &run,
            "Failed: Timed out waiting to power OFF",
            Duration::from_secs(3) + SLACK,
        );
        assert!(run.elapsed >= Duration::from_secs(3), "{:?}", run.elapsed);
    }
    // vm1 is still running.
    let run = cli(
        "fence_vbox",
        vbox_args("status", peer_port("SSH_PORT"), "password", &dir.join("kh")),
    )
    .await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "Status: ON\n"),
        "{}",
        run.all()
    );
}
