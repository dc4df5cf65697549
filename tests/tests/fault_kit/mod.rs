//! Shared by the fault, secret and interrupt tests: simulated BMCs with fault modes
//! (fence-sim, in process), the `fence-agent` binary run from async tests, and the checks
//! every failure must pass (exit 1, a `Failed:` line, never a success line, in time).
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use fence_core::PowerState;
use fence_sim::Faults;
use fence_sim::ipmi::{IpmiConfig, IpmiSim};
use fence_sim::redfish::{RedfishConfig, RedfishSim};

#[path = "../cli_common/mod.rs"]
mod cli_common;

pub use cli_common::{Run, agent_bin, wait_until};

/// The password of the simulated BMCs.
pub const PASSWORD: &str = "password";

/// Faults parsed as fence-sim's command line names them (`lie`, `refuse`, `silent`,
/// `drop=0.3`).
pub fn faults(modes: &[&str]) -> Faults {
    modes.iter().fold(Faults::NONE, |f, m| f.with(m).unwrap())
}

/// One simulated IPMI BMC (machine On) with these faults.
pub async fn ipmi_bmc(modes: &[&str]) -> IpmiSim {
    IpmiSim::start(IpmiConfig {
        faults: faults(modes),
        ..IpmiConfig::default()
    })
    .await
    .unwrap()
}

/// One simulated Redfish service (one system, On) with these faults, and its CA file.
pub async fn redfish_service(modes: &[&str], dir: &Path) -> (RedfishSim, String) {
    let sim = RedfishSim::start(RedfishConfig {
        faults: faults(modes),
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let ca = dir.join("fence-sim-ca.pem");
    std::fs::write(&ca, sim.ca_pem()).unwrap();
    (sim, ca.display().to_string())
}

/// fence_ipmilan's arguments for a simulated BMC on `port` (lanplus).
pub fn ipmi_args(action: &str, port: u16, password: &str) -> Vec<String> {
    strings(&[
        "-o",
        action,
        "-P",
        "-a",
        "127.0.0.1",
        "-u",
        &port.to_string(),
        "-l",
        "admin",
        "-p",
        password,
    ])
}

/// fence_ipmilan's arguments for OpenIPMI's ipmi_sim (peer `IPMISIM_PORT`, or a relay in
/// front of it) on `port`: lanplus, cipher suite 3, admin/password.
pub fn ipmi_sim_args(action: &str, port: u16) -> Vec<String> {
    with(ipmi_args(action, port, "password"), &["-C", "3"])
}

/// fence_redfish's arguments for a simulated service on `port`.
pub fn redfish_args(action: &str, port: u16, password: &str, ca: &str) -> Vec<String> {
    strings(&[
        "-o",
        action,
        "-a",
        "127.0.0.1",
        "-u",
        &port.to_string(),
        "-l",
        "admin",
        "-p",
        password,
        "--ssl-ca-file",
        ca,
        "--systems-uri",
        "/redfish/v1/Systems/1",
    ])
}

/// `args` followed by `more`.
pub fn with(mut args: Vec<String>, more: &[&str]) -> Vec<String> {
    args.extend(more.iter().map(|s| (*s).to_owned()));
    args
}

/// Owned copies.
pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// `fence-agent AGENT args...` without blocking the runtime (the simulators run on it).
pub async fn cli(agent: &str, args: Vec<String>) -> Run {
    let agent = agent.to_owned();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_common::argv(&agent, &refs)
    })
    .await
    .unwrap()
}

/// `fence-agent AGENT` with `key=value` lines on stdin, without blocking the runtime.
pub async fn cli_stdin(agent: &str, lines: Vec<String>) -> Run {
    let agent = agent.to_owned();
    tokio::task::spawn_blocking(move || cli_common::stdin(&agent, &lines))
        .await
        .unwrap()
}

/// Asserts a failed run: exit 1, no `Success` on stdout, `needle` on stderr, and an elapsed
/// time within `within`.
pub fn assert_failed(run: &Run, needle: &str, within: Duration) {
    assert_eq!(run.code, 1, "expected exit 1:\n{}", run.all());
    assert!(
        !run.stdout.contains("Success"),
        "a failure printed success:\n{}",
        run.all()
    );
    assert!(
        run.stderr.contains(needle),
        "expected {needle:?} on stderr:\n{}",
        run.all()
    );
    assert!(
        run.elapsed <= within,
        "took {:?}, the bound is {within:?}:\n{}",
        run.elapsed,
        run.all()
    );
}

/// A fresh directory under the system's temporary directory, readable by everyone (the
/// fake VBoxManage scripts run as fenceuser).
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!(
        "fence-rs-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Starts `fence-agent AGENT` with `stdin` written and closed; output piped.
pub fn spawn_stdin(agent: &str, stdin: &[u8]) -> Child {
    cli_common::spawn::<&str>(agent, &[], stdin)
}

/// Starts `fence-agent AGENT args...` and returns the child (for signals).
pub fn spawn(agent: &str, args: &[String]) -> Child {
    cli_common::spawn(agent, args, b"")
}

/// Waits for the exit (at most `bound`); returns (code, stdout, stderr, elapsed), or None
/// if the agent was still running (it is then killed).
pub async fn finish(mut child: Child, bound: Duration) -> Option<(i32, String, String, Duration)> {
    let start = std::time::Instant::now();
    tokio::task::spawn_blocking(move || {
        let exited = wait_until(bound, || child.try_wait().unwrap().is_some());
        if !exited {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        exited.then(|| {
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
                start.elapsed(),
            )
        })
    })
    .await
    .unwrap()
}

/// Sends `signal` (`TERM`, `INT`) to a child with kill(1).
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} failed");
}

/// The power state of a simulated machine.
pub fn power(machine: &fence_sim::Machine) -> PowerState {
    machine.power()
}
