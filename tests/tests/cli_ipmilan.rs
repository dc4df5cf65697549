//! `fence_ipmilan` and its aliases (the fence-agent binary) against OpenIPMI's ipmi_sim
//! and pyghmi's fake BMC, through the command line and Pacemaker-style stdin. The state is
//! read back independently: ipmi_sim's chassis state file, and Debian's Python
//! `fence_ipmilan` (which runs ipmitool) side by side. Peer settings: `IPMISIM_PORT`,
//! `IPMISIM_STATE`, `FAKEBMC_PORT` (tests/scripts/start-peers.sh).
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;
use std::time::Duration;

use fence_test_support::agent::{Run, argv, expect, stdin, wait_until};
use fence_tests::{peer_path, peer_var};

/// The tests share the simulators: one at a time.
static BMC: Mutex<()> = Mutex::new(());

/// ipmi_sim's power state as its chassis-control program stored it: "0" or "1".
fn sim_power() -> String {
    let path = peer_path("IPMISIM_STATE").join("power");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// Debian's Python fence_ipmilan (ipmitool, cipher suite 3) reading the state.
fn python_status(port: &str) -> (i32, String) {
    let out = std::process::Command::new("/usr/sbin/fence_ipmilan")
        .args([
            "-P",
            "-C",
            "3",
            "-o",
            "status",
            "-a",
            "127.0.0.1",
            "-u",
            port,
            "-l",
            "admin",
            "-p",
            "password",
        ])
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .expect("/usr/sbin/fence_ipmilan missing: install fence-agents and ipmitool");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn run(agent: &str, action: &str, port: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "-o",
        action,
        "-a",
        "127.0.0.1",
        "-u",
        port,
        "-l",
        "admin",
        "-p",
        "password",
        "--power-wait=0",
    ];
    args.extend_from_slice(extra);
    argv(agent, &args)
}

#[test]
fn ipmi_sim_lanplus_status_off_on_reboot_monitor_validate() {
    let _g = BMC.lock().unwrap_or_else(|e| e.into_inner());
    let port = peer_var("IPMISIM_PORT");
    let agent = "fence_ipmilanplus"; // lanplus by default
    let r = run(agent, "on", &port, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    // "on" printed either Powered ON or Already ON; both leave it on.
    assert_eq!(sim_power(), "1");
    expect(&run(agent, "status", &port, &[]), 0, "Status: ON\n");
    assert_eq!(python_status(&port), (0, "Status: ON\n".to_owned()));

    expect(&run(agent, "off", &port, &[]), 0, "Success: Powered OFF\n");
    assert_eq!(sim_power(), "0");
    assert_eq!(python_status(&port), (2, "Status: OFF\n".to_owned()));
    expect(&run(agent, "status", &port, &[]), 2, "Status: OFF\n");
    expect(&run(agent, "off", &port, &[]), 0, "Success: Already OFF\n");

    expect(&run(agent, "reboot", &port, &[]), 0, "Success: Rebooted\n");
    assert_eq!(sim_power(), "1");
    assert_eq!(python_status(&port), (0, "Status: ON\n".to_owned()));

    expect(&run(agent, "monitor", &port, &[]), 0, "");
    expect(&run(agent, "validate-all", &port, &[]), 0, "");
}

#[test]
fn ipmi_sim_lan_v15_and_method_cycle() {
    let _g = BMC.lock().unwrap_or_else(|e| e.into_inner());
    let port = peer_var("IPMISIM_PORT");
    // fence_ipmilan without -P speaks IPMI v1.5 (ipmitool -I lan).
    let r = run("fence_ipmilan", "off", &port, &["-A", "md5"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = run("fence_ipmilan", "status", &port, &["-A", "md5"]);
    expect(&r, 2, "Status: OFF\n");
    assert_eq!(sim_power(), "0");
    let r = run("fence_ipmilan", "on", &port, &["-A", "md5"]);
    expect(&r, 0, "Success: Powered ON\n");
    assert_eq!(sim_power(), "1");
    // Reboot by power cycle: the BMC ends it on.
    let r = run("fence_ilo4", "reboot", &port, &["-m", "cycle"]);
    expect(&r, 0, "Success: Rebooted\n");
    assert!(wait_until(Duration::from_secs(5), || sim_power() == "1"));
}

#[test]
fn ipmi_sim_pacemaker_style_stdin() {
    let _g = BMC.lock().unwrap_or_else(|e| e.into_inner());
    let port = peer_var("IPMISIM_PORT");
    let lines = |action: &str| {
        vec![
            format!("action={action}"),
            "ipaddr=127.0.0.1".to_owned(),
            format!("ipport={port}"),
            "login=admin".to_owned(),
            "passwd=password".to_owned(),
            "lanplus=1".to_owned(),
            "power_wait=0".to_owned(),
            "nodename=node1".to_owned(),
            "plug=node1".to_owned(),
            "ipmitool_path=/usr/bin/ipmitool".to_owned(),
        ]
    };
    let r = stdin("fence_idrac", &lines("off"));
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(sim_power(), "0");
    let r = stdin("fence_idrac", &lines("status"));
    expect(&r, 2, "Status: OFF\n");
    let r = stdin("fence_idrac", &lines("reboot"));
    expect(&r, 0, "Success: Rebooted\n");
    assert_eq!(sim_power(), "1");
    let r = stdin("fence_idrac", &lines("monitor"));
    expect(&r, 0, "");
}

#[test]
fn wrong_password_fails_like_python_without_showing_it() {
    let port = peer_var("IPMISIM_PORT");
    let r = argv(
        "fence_ipmilan",
        &[
            "-P",
            "-o",
            "status",
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-l",
            "admin",
            "-p",
            "Not-The-Password-93",
            "-vv",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("ERROR: Failed: Unable to connect/login"),
        "{}",
        r.all()
    );
    assert!(
        r.stderr.contains(
            "ERROR: The next line is fence-agents' message for the same failure (for tools that \
             match on it).\n\n"
        ) && r.stderr.contains(
            "ERROR: Failed: Unable to obtain correct plug status or plug is not available\n"
        ),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("Not-The-Password-93"));
    assert!(r.elapsed < Duration::from_secs(8), "{:?}", r.elapsed);
}

#[test]
fn pyghmi_fake_bmc_off_and_on_agree_with_python_fence_ipmilan() {
    let _g = BMC.lock().unwrap_or_else(|e| e.into_inner());
    let port = peer_var("FAKEBMC_PORT");
    let agent = "fence_ilo3"; // lanplus by default, power_wait 4 (overridden to 0)
    let r = run(agent, "off", &port, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(python_status(&port), (2, "Status: OFF\n".to_owned()));
    let r = run(agent, "on", &port, &[]);
    expect(&r, 0, "Success: Powered ON\n");
    assert_eq!(python_status(&port), (0, "Status: ON\n".to_owned()));
    expect(&run(agent, "status", &port, &[]), 0, "Status: ON\n");
}
