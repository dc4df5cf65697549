//! Shared by the fault, secret and interrupt tests: simulated BMCs with fault modes
//! (fence-sim, in process) and the agents' arguments for them. The runs themselves, and the
//! checks every failure must pass (exit 1, a `Failed:` line, never a success line, in
//! time), are fence-test-support's runner.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

use std::path::Path;
use std::process::Child;

use fence_core::PowerState;
use fence_sim::Faults;
use fence_sim::ipmi::{IpmiConfig, IpmiSim};
use fence_sim::redfish::{RedfishConfig, RedfishSim};

pub use fence_test_support::agent::{
    Program, Run, agent_bin, argv_async as cli, assert_failed, finish, signal,
    stdin_async as cli_stdin, temp_dir, wait_until,
};

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

/// Starts `fence-agent AGENT` with `stdin` written and closed; output piped.
pub fn spawn_stdin(agent: &str, stdin: &[u8]) -> Child {
    Program::agent(agent).spawn::<&str>(&[], stdin)
}

/// Starts `fence-agent AGENT args...` and returns the child (for signals).
pub fn spawn(agent: &str, args: &[String]) -> Child {
    Program::agent(agent).spawn(args, b"")
}

/// The power state of a simulated machine.
pub fn power(machine: &fence_sim::Machine) -> PowerState {
    machine.power()
}
