//! `fence_vbox` (the fence-agent binary) against OpenSSH's sshd and the fake VBoxManage,
//! through the command line and Pacemaker-style stdin. Each test makes its own fake VMs
//! and reads their state back from the fake's files, not over SSH. Peer settings:
//! `SSH_PORT`, `SSH_KEY`, `FAKEVBOX_DIR`, `PEERS_DIR` (tests/scripts/start-peers.sh).
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use fence_test_support::agent::{Run, argv, expect, stdin};
use fence_tests::{peer_path, peer_var};

/// A fake VM of this test, removed at the end.
struct Vm {
    name: String,
    uuid: String,
    file: PathBuf,
}

fn vbox_dir() -> PathBuf {
    let dir = peer_path("FAKEVBOX_DIR");
    assert!(dir.is_dir(), "{} missing: start the peers", dir.display());
    dir
}

impl Vm {
    fn new(tag: &str, running: bool) -> Vm {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("cli-{tag}-{}-{nanos}", std::process::id());
        let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
            .unwrap()
            .trim()
            .to_owned();
        let dir = vbox_dir();
        let vm = Vm {
            file: dir.join(&name),
            name,
            uuid,
        };
        vm.set(running);
        let meta = std::fs::metadata(&dir).unwrap();
        std::os::unix::fs::chown(&vm.file, Some(meta.uid()), Some(meta.gid())).unwrap();
        vm
    }

    fn set(&self, running: bool) {
        let word = if running { "running" } else { "poweroff" };
        std::fs::write(
            &self.file,
            format!("{} {word} 2026-01-01T00:00:00.000000000\n", self.uuid),
        )
        .unwrap();
    }

    /// "running" or "poweroff", from the fake's file.
    fn state(&self) -> String {
        let text = std::fs::read_to_string(&self.file).unwrap();
        text.split_whitespace().nth(1).unwrap().to_owned()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// A known_hosts file of this test.
fn known_hosts(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cli-vbox-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("known_hosts")
}

fn run(action: &str, plug: &str, kh: &Path, extra: &[&str]) -> Run {
    let port = peer_var("SSH_PORT");
    let kh = kh.display().to_string();
    let mut args = vec![
        "-o",
        action,
        "-a",
        "127.0.0.1",
        "-u",
        &port,
        "-l",
        "fenceuser",
        "-p",
        "password",
        "--ssh-known-hosts-file",
        &kh,
    ];
    if !plug.is_empty() {
        args.extend(["-n", plug]);
    }
    args.extend_from_slice(extra);
    argv("fence_vbox", &args)
}

#[test]
fn status_off_on_reboot_monitor_validate_through_the_command_line() {
    let vm = Vm::new("argv", true);
    let kh = known_hosts("argv");
    expect(&run("status", &vm.name, &kh, &[]), 0, "Status: ON\n");
    expect(&run("off", &vm.name, &kh, &[]), 0, "Success: Powered OFF\n");
    assert_eq!(vm.state(), "poweroff");
    expect(&run("status", &vm.name, &kh, &[]), 2, "Status: OFF\n");
    expect(&run("off", &vm.name, &kh, &[]), 0, "Success: Already OFF\n");
    expect(&run("on", &vm.name, &kh, &[]), 0, "Success: Powered ON\n");
    assert_eq!(vm.state(), "running");
    expect(&run("reboot", &vm.name, &kh, &[]), 0, "Success: Rebooted\n");
    assert_eq!(vm.state(), "running");
    expect(&run("monitor", "", &kh, &[]), 0, "");
    expect(&run("validate-all", &vm.name, &kh, &[]), 0, "");
    // by UUID
    expect(&run("status", &vm.uuid, &kh, &[]), 0, "Status: ON\n");
}

#[test]
fn list_and_list_status_with_separator() {
    let on = Vm::new("list-on", true);
    let off = Vm::new("list-off", false);
    let kh = known_hosts("list");
    let r = run("list", "", &kh, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .lines()
            .any(|l| l == format!("{},{}", on.name, on.uuid)),
        "{}",
        r.stdout
    );
    let r = run("list-status", "", &kh, &["-C", ";"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .lines()
            .any(|l| l == format!("{};{};on", on.name, on.uuid)),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l == format!("{};{};off", off.name, off.uuid)),
        "{}",
        r.stdout
    );
}

#[test]
fn pacemaker_style_stdin_with_a_key_and_old_names() {
    let vm = Vm::new("stdin", true);
    let kh = known_hosts("stdin");
    let lines = |action: &str| {
        vec![
            format!("action={action}"),
            "ipaddr=127.0.0.1".to_owned(),
            format!("ipport={}", peer_var("SSH_PORT")),
            "login=fenceuser".to_owned(),
            format!("identity_file={}", peer_var("SSH_KEY")),
            format!("ssh_known_hosts_file={}", kh.display()),
            format!("nodename={}", vm.name),
            format!("port={}", vm.name),
            "secure=1".to_owned(),
        ]
    };
    let r = stdin("fence_vbox", &lines("reboot"));
    expect(&r, 0, "Success: Rebooted\n");
    assert_eq!(vm.state(), "running");
    let r = stdin("fence_vbox", &lines("off"));
    expect(&r, 0, "Success: Powered OFF\n");
    assert_eq!(vm.state(), "poweroff");
    let r = stdin("fence_vbox", &lines("status"));
    expect(&r, 2, "Status: OFF\n");
}

#[test]
fn missing_vm_fails_like_fence_vbox_unless_missing_as_off() {
    let kh = known_hosts("missing");
    let r = run("status", "no-such-vm-cli", &kh, &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("Failed: You have to enter existing name/UUID of virtual machine!"),
        "{}",
        r.all()
    );
    let r = run("status", "no-such-vm-cli", &kh, &["--missing-as-off"]);
    expect(&r, 2, "Status: OFF\n");
}

#[test]
fn wrong_password_is_a_login_failure_without_the_password() {
    let port = peer_var("SSH_PORT");
    let kh = known_hosts("wrong").display().to_string();
    let r = argv(
        "fence_vbox",
        &[
            "-o",
            "status",
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-l",
            "fenceuser",
            "-p",
            "Bad-Ssh-Pass-5521",
            "-n",
            "vm1",
            "--ssh-known-hosts-file",
            &kh,
            "-vvv",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("Unable to connect/login to fencing device"),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("Bad-Ssh-Pass-5521"));
}
