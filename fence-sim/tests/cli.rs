//! The `fence-sim` binary: its readiness line, its info file, and stopping on SIGTERM.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `fence-sim ARGS` and returns it with its parsed readiness line.
fn start(args: &[&str]) -> (Child, serde_json::Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fence-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (child, info)
}

/// Sends SIGTERM (through kill(1)) and waits, bounded, for a clean exit.
fn stop(mut child: Child) {
    let status = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "fence-sim exited with {status}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "fence-sim did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ipmi_prints_consecutive_ports_and_a_hostrange_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("fence-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let info_file = dir.join("ipmi.json");
    let (child, info) = start(&[
        "ipmi",
        "--count",
        "5",
        "--base-port",
        "auto",
        "--state",
        "off",
        "--info-file",
        info_file.to_str().unwrap(),
    ]);
    let ports: Vec<u64> = info["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert_eq!(ports.len(), 5);
    assert!(ports.windows(2).all(|w| w[1] == w[0] + 1), "{ports:?}");
    assert_eq!(
        info["hostrange"],
        format!("127.0.0.1:[{}-{}]", ports[0], ports[4])
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&info_file).unwrap()).unwrap();
    assert_eq!(written, info);

    let out = Command::new("ipmitool")
        .args([
            "-I",
            "lanplus",
            "-C",
            "3",
            "-H",
            "127.0.0.1",
            "-U",
            "admin",
            "-P",
            "password",
        ])
        .args(["-p", &ports[3].to_string(), "chassis", "power", "status"])
        .output()
        .expect("ipmitool is a test peer and must be installed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Chassis Power is off"
    );
    stop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn redfish_writes_its_ca_and_serves_over_verified_tls() {
    let dir = std::env::temp_dir().join(format!("fence-sim-cli-rf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let (child, info) = start(&[
        "redfish",
        "--services",
        "2",
        "--systems",
        "4",
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(info["ca_file"], ca.to_str().unwrap());
    let services = info["services"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    assert_eq!(services[1]["systems"].as_array().unwrap().len(), 4);
    let url = format!(
        "{}/redfish/v1/Systems/4",
        services[1]["url"].as_str().unwrap()
    );
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert", ca.to_str().unwrap()])
        .args(["-u", "admin:password", &url])
        .output()
        .expect("curl is a test peer and must be installed");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(doc["PowerState"], "On");
    stop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A program for `--on-power-change` that appends "NAME STATE" to LOG, and, for
/// "redfish-0-2 off", first sleeps 0.3 s (the client must not see Off before it returns).
fn recorder(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let log = dir.join("changes.log");
    let hook = dir.join("hook");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n[ \"$1 $2\" = \"redfish-0-2 off\" ] && sleep 0.3\necho \"$1 $2\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    (hook, log)
}

#[test]
fn on_power_change_runs_the_command_for_each_change_before_the_bmc_reports_it() {
    let dir = std::env::temp_dir().join(format!("fence-sim-cli-hook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (hook, log) = recorder(&dir);
    let changes = || std::fs::read_to_string(&log).unwrap_or_default();

    // IPMI: BMC 1 of 2, off then on with ipmitool
    let (ipmi, info) = start(&[
        "ipmi",
        "--count",
        "2",
        "--on-power-change",
        hook.to_str().unwrap(),
    ]);
    let port = info["ports"][1].as_u64().unwrap().to_string();
    let ipmitool = |what: &str| {
        let out = Command::new("ipmitool")
            .args(["-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-U", "admin"])
            .args(["-P", "password", "-p", &port, "chassis", "power", what])
            .output()
            .expect("ipmitool is a test peer and must be installed");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    ipmitool("off");
    assert_eq!(ipmitool("status"), "Chassis Power is off");
    assert_eq!(
        changes(),
        "ipmi-1 off\n",
        "the BMC reported off: the hook ran"
    );
    ipmitool("on");
    assert_eq!(ipmitool("status"), "Chassis Power is on");
    assert_eq!(changes(), "ipmi-1 off\nipmi-1 on\n");
    ipmitool("on"); // already on: no change, no call
    assert_eq!(changes(), "ipmi-1 off\nipmi-1 on\n");
    stop(ipmi);

    // Redfish: system 2 of service 0, a ForceOff; the slow hook holds the state back
    std::fs::remove_file(&log).unwrap();
    let ca = dir.join("ca.pem");
    let (redfish, info) = start(&[
        "redfish",
        "--systems",
        "2",
        "--ca-file",
        ca.to_str().unwrap(),
        "--on-power-change",
        hook.to_str().unwrap(),
    ]);
    let url = format!(
        "{}/redfish/v1/Systems/2",
        info["services"][0]["url"].as_str().unwrap()
    );
    let curl = |extra: &[&str], path: &str| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "5", "--cacert", ca.to_str().unwrap()])
            .args(["-u", "admin:password"])
            .args(extra)
            .arg(format!("{url}{path}"))
            .output()
            .expect("curl is a test peer and must be installed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    curl(
        &[
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"ResetType":"ForceOff"}"#,
        ],
        "/Actions/ComputerSystem.Reset",
    );
    let doc: serde_json::Value = serde_json::from_str(&curl(&[], "")).unwrap();
    assert_eq!(doc["PowerState"], "Off");
    assert_eq!(
        changes(),
        "redfish-0-2 off\n",
        "Off was reported only after the hook had returned"
    );
    stop(redfish);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_options_are_refused_with_exit_code_2() {
    for args in [
        &["ipmi", "--count", "x"][..],
        &["ipmi", "--fault", "bogus"][..],
        &["redfish", "--nonsense", "1"][..],
        &["frobnicate"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fence-sim"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("fence-sim: "),
            "{args:?}"
        );
    }
}
