//! The password's value changes nothing in what the agents print: for every backend, at
//! every verbosity (none, `verbose`, `verbose_level` 3 and 5, each with a `debug_file`), on
//! a failed login and on a successful run, stdout, stderr and the debug file are the same
//! whatever the password, once time stamps, durations and port numbers are masked.
//!
//! The passwords are words of our own messages and of the peers' (`user`, `fencing`,
//! `status`, `established`, `Failed`, `redacted`, ...) and secrets of one to three
//! characters. A scrubber that rewrote our wording, or a device's fixed wording, would
//! print `[redacted]` where the word stands and so tell the password: each such run
//! differs from the baseline run with a password that appears nowhere.
//!
//! Peers: fence-sim's IPMI BMC and Redfish service (in process, one per password for the
//! successful runs), OpenIPMI's ipmi_sim and sushy-tools (`IPMISIM_PORT`, `REDFISH_PORT`,
//! `REDFISH_CA`, `REDFISH_SYSTEMS_URI`) and the private OpenSSH server (`SSH_PORT`) for
//! failed logins, and tests/peers/ssh_cutter.py (paramiko, in `whole` mode, the password read
//! from a file at each login) with the VBoxManage stand-in for successful fence_vbox runs.
#![allow(clippy::unwrap_used)]

mod fault_kit;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use fault_kit::{Run, cli_stdin, temp_dir};
use fence_sim::ipmi::{IpmiConfig, IpmiSim};
use fence_sim::redfish::{RedfishConfig, RedfishSim};
use fence_tests::{peer_path, peer_port, peer_var};

/// A password that appears in no message: the runs with it are the reference.
const BASELINE: &str = "Qz-Baseline-7731";

/// The password of the peers that a failed login runs against.
const PEER_PASSWORD: &str = "password";

/// Words of our wording and of the peers' wording, and short secrets.
const PASSWORDS: &[&str] = &[
    "user",
    "fencing",
    "status",
    "established",
    "Failed",
    "redacted",
    "password",
    "device",
    "login",
    "Unable",
    "connect",
    "session",
    "true",
    "ON",
    "off",
    "a",
    "e",
    "s",
    "to",
    "is",
    "ab",
    "the",
    "abc",
    "for",
    "running",
    "Incorrect",
    "VMState",
];

/// The verbosities: extra option lines, and whether a debug file is written.
const VERBOSITIES: &[(&str, &[&str], bool)] = &[
    ("quiet", &[], false),
    ("verbose", &["verbose=1"], true),
    ("level 3", &["verbose_level=3"], true),
    ("level 5", &["verbose=1", "verbose_level=5"], true),
];

/// One agent run's text, masked: digits (time stamps, durations, ports, counts) become `N`.
fn masked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out
}

/// Runs `agent` with `lines`, the verbosity's options and (when asked) a debug file; returns
/// the exit code and everything printed, masked, the debug file's path replaced by `DEBUG`.
async fn output(
    agent: &str,
    lines: &[String],
    verbosity: &(&str, &[&str], bool),
    dir: &Path,
) -> (i32, String) {
    let debug = dir.join("debug.log");
    let _ = std::fs::remove_file(&debug);
    let mut lines = lines.to_vec();
    lines.extend(verbosity.1.iter().map(|s| (*s).to_owned()));
    if verbosity.2 {
        lines.push(format!("debug_file={}", debug.display()));
    }
    let run: Run = cli_stdin(agent, lines).await;
    let file = std::fs::read_to_string(&debug).unwrap_or_default();
    let all = format!(
        "--- stdout\n{}\n--- stderr\n{}\n--- debug_file\n{file}",
        run.stdout, run.stderr
    )
    .replace(&debug.display().to_string(), "DEBUG");
    assert!(!all.contains("panicked"), "{agent}: {all}");
    (run.code, masked(&all))
}

/// A line-by-line account of where `got` differs from `want`.
fn diff(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut out = String::new();
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i).copied(), g.get(i).copied());
        if a != b {
            out.push_str(&format!(
                "line {i}:\n  baseline: {}\n  this one: {}\n",
                a.unwrap_or("<none>"),
                b.unwrap_or("<none>")
            ));
        }
    }
    out
}

/// For each verbosity: the output with [`BASELINE`], then with every password of
/// [`PASSWORDS`]; `lines(password)` builds the run's input and `prepare(password)` readies
/// the peer (for a successful run, to accept that password). Every run must exit `code`
/// and print exactly what the baseline printed.
async fn check_independent<L, P, F>(what: &str, agent: &str, code: i32, lines: L, prepare: P)
where
    L: Fn(&str) -> Vec<String>,
    P: Fn(String) -> F,
    F: std::future::Future<Output = ()>,
{
    let dir = temp_dir(&format!("pwind-{}", what.replace(' ', "-")));
    let mut failures = Vec::new();
    for verbosity in VERBOSITIES {
        prepare(BASELINE.to_owned()).await;
        let (base_code, base) = output(agent, &lines(BASELINE), verbosity, &dir).await;
        assert_eq!(
            base_code, code,
            "{what}, {}, baseline:\n{base}",
            verbosity.0
        );
        if verbosity.2 {
            assert!(
                base.contains("--- debug_file\n") && !base.ends_with("--- debug_file\n"),
                "{what}, {}: the debug file is empty:\n{base}",
                verbosity.0
            );
        }
        // A failed login needs a wrong password: the peers' own is left out there.
        for password in PASSWORDS
            .iter()
            .filter(|p| code != 1 || **p != PEER_PASSWORD)
        {
            prepare((*password).to_owned()).await;
            let (got_code, got) = output(agent, &lines(password), verbosity, &dir).await;
            if got_code != code || got != base {
                failures.push(format!(
                    "{what}, {}, password {password:?} (exit {got_code}):\n{}",
                    verbosity.0,
                    diff(&base, &got)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} runs differ from the baseline:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn ipmi_lines(port: u16, password: &str, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "action=status".to_owned(),
        "ip=127.0.0.1".into(),
        format!("ipport={port}"),
        "username=admin".into(),
        format!("password={password}"),
        "lanplus=1".into(),
        "login_timeout=2".into(),
    ];
    v.extend(extra.iter().map(|s| (*s).to_owned()));
    v
}

fn redfish_lines(
    port: u16,
    password: &str,
    ca: &str,
    systems: &str,
    extra: &[&str],
) -> Vec<String> {
    let mut v = vec![
        "action=status".to_owned(),
        "ip=127.0.0.1".into(),
        format!("ipport={port}"),
        "username=admin".into(),
        format!("password={password}"),
        format!("ssl_ca_file={ca}"),
        format!("systems_uri={systems}"),
        "login_timeout=2".into(),
    ];
    v.extend(extra.iter().map(|s| (*s).to_owned()));
    v
}

fn vbox_lines(port: u16, password: &str, plug: &str) -> Vec<String> {
    vec![
        "action=status".to_owned(),
        "ip=127.0.0.1".into(),
        format!("ipport={port}"),
        "username=fenceuser".into(),
        format!("password={password}"),
        format!("plug={plug}"),
        "ssh_host_key_check=off".into(),
        "login_timeout=3".into(),
    ]
}

async fn nothing(_: String) {}

#[tokio::test(flavor = "multi_thread")]
async fn ipmi_failed_login_output_is_the_same_whatever_the_password() {
    let sim = IpmiSim::start(IpmiConfig::default()).await.unwrap();
    let port = sim.bmcs()[0].addr.port();
    check_independent(
        "fence-sim ipmi wrong password",
        "fence_ipmilan",
        1,
        |pw| ipmi_lines(port, pw, &[]),
        nothing,
    )
    .await;
    let peer = peer_port("IPMISIM_PORT");
    check_independent(
        "ipmi_sim wrong password",
        "fence_ipmilan",
        1,
        |pw| ipmi_lines(peer, pw, &["cipher=3"]),
        nothing,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ipmi_successful_output_is_the_same_whatever_the_password() {
    let current: std::sync::Mutex<Option<IpmiSim>> = std::sync::Mutex::new(None);
    let port = std::sync::Mutex::new(0u16);
    check_independent(
        "fence-sim ipmi status",
        "fence_ipmilan",
        0,
        |pw| ipmi_lines(*port.lock().unwrap(), pw, &[]),
        |pw: String| {
            let (current, port) = (&current, &port);
            async move {
                let sim = IpmiSim::start(IpmiConfig {
                    password: pw,
                    ..IpmiConfig::default()
                })
                .await
                .unwrap();
                *port.lock().unwrap() = sim.bmcs()[0].addr.port();
                *current.lock().unwrap() = Some(sim);
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redfish_failed_login_output_is_the_same_whatever_the_password() {
    let dir = temp_dir("pwind-rf-ca");
    let sim = RedfishSim::start(RedfishConfig::default()).await.unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem()).unwrap();
    let ca = ca.display().to_string();
    let port = sim.services()[0].addr.port();
    for auth in ["auth_method=basic", "auth_method=session"] {
        check_independent(
            &format!("fence-sim redfish wrong password {auth}"),
            "fence_redfish",
            1,
            |pw| redfish_lines(port, pw, &ca, "/redfish/v1/Systems/1", &[auth]),
            nothing,
        )
        .await;
    }
    let (peer, peer_ca, systems) = (
        peer_port("REDFISH_PORT"),
        peer_var("REDFISH_CA"),
        peer_var("REDFISH_SYSTEMS_URI"),
    );
    check_independent(
        "sushy-tools wrong password",
        "fence_redfish",
        1,
        |pw| redfish_lines(peer, pw, &peer_ca, &systems, &[]),
        nothing,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redfish_successful_output_is_the_same_whatever_the_password() {
    let dir = temp_dir("pwind-rf-ok");
    let current: std::sync::Mutex<Option<(RedfishSim, u16, String)>> = std::sync::Mutex::new(None);
    for auth in ["auth_method=basic", "auth_method=session"] {
        check_independent(
            &format!("fence-sim redfish status {auth}"),
            "fence_redfish",
            2,
            |pw| {
                let guard = current.lock().unwrap();
                let (_, port, ca) = guard.as_ref().unwrap();
                redfish_lines(*port, pw, ca, "/redfish/v1/Systems/1", &[auth])
            },
            |pw: String| {
                let (current, dir) = (&current, &dir);
                async move {
                    let sim = RedfishSim::start(RedfishConfig {
                        password: pw,
                        initial: fence_core::PowerState::Off,
                        ..RedfishConfig::default()
                    })
                    .await
                    .unwrap();
                    // The CA differs per simulator; its path stays the same.
                    let ca = dir.join("ca.pem");
                    std::fs::write(&ca, sim.ca_pem()).unwrap();
                    let port = sim.services()[0].addr.port();
                    *current.lock().unwrap() = Some((sim, port, ca.display().to_string()));
                }
            },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn vbox_failed_login_output_is_the_same_whatever_the_password() {
    let port = peer_port("SSH_PORT");
    check_independent(
        "OpenSSH wrong password",
        "fence_vbox",
        1,
        |pw| vbox_lines(port, pw, "vm-anything"),
        nothing,
    )
    .await;
}

/// tests/peers/ssh_cutter.py in `whole` mode with the VBoxManage stand-in and one running VM;
/// the password it accepts is the contents of `password_file`.
struct SshServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    password_file: PathBuf,
}

impl SshServer {
    fn start() -> SshServer {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = temp_dir("pwind-ssh");
        let (bin, vms) = (dir.join("bin"), dir.join("vms"));
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&vms).unwrap();
        let fake = bin.join("VBoxManage");
        std::fs::copy(root.join("peers/VBoxManage.fake"), &fake).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            vms.join("vm-on"),
            "2ad5a6a6-7c3e-4d0a-9d1c-1b1e8f7f0a01 running 2026-01-01T00:00:00.000000000Z\n",
        )
        .unwrap();
        let password_file = dir.join("password");
        std::fs::write(&password_file, BASELINE).unwrap();
        let portfile = dir.join("port");
        let python = peer_path("PEERS_VENV").join("bin/python");
        let child = Command::new(&python)
            .arg(root.join("peers/ssh_cutter.py"))
            .arg("whole")
            .arg(&portfile)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("FAKEVBOX_DIR", &vms)
            .env("SSH_CUTTER_PASSWORD_FILE", &password_file)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (run tests/scripts/install-deps.sh)",
                    python.display()
                )
            });
        let started = Instant::now();
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&portfile) {
                break text.trim().parse().unwrap();
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "ssh_cutter.py did not start (is paramiko in the peers' venv?)"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        SshServer {
            child,
            port,
            dir,
            password_file,
        }
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn vbox_successful_output_is_the_same_whatever_the_password() {
    let server = SshServer::start();
    let (port, file) = (server.port, server.password_file.clone());
    check_independent(
        "paramiko vbox status",
        "fence_vbox",
        0,
        |pw| vbox_lines(port, pw, "vm-on"),
        |pw: String| {
            std::fs::write(&file, pw).unwrap();
            async {}
        },
    )
    .await;
}

#[test]
fn masking_keeps_words_and_hides_numbers() {
    assert_eq!(
        masked("took 17 ms at 127.0.0.1:4711"),
        "took N ms at N.N.N.N:N"
    );
    assert_eq!(masked("[redacted] status"), "[redacted] status");
    assert_ne!(masked("a status"), masked("[redacted] status"));
}
