//! `fence_redfish` (the fence-agent binary) against sushy-tools' Redfish emulator, through
//! the command line and through Pacemaker-style stdin; the power state is read back
//! independently with curl. Peer settings: `REDFISH_PORT`, `REDFISH_CA`,
//! `REDFISH_SYSTEMS_URI`, `REDFISH_URL` (tests/scripts/start-peers.sh).
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use fence_test_support::agent::{Run, argv, expect, stdin};
use fence_tests::{peer_var, run_tool};

/// The tests share one emulated system: one at a time.
static SYSTEM: Mutex<()> = Mutex::new(());

/// `PowerState` of the system as curl reads it.
fn curl_state() -> String {
    let url = format!(
        "{}{}",
        peer_var("REDFISH_URL"),
        peer_var("REDFISH_SYSTEMS_URI")
    );
    let out = run_tool(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            &peer_var("REDFISH_CA"),
            "-u",
            "admin:password",
            &url,
        ],
    );
    assert!(out.status.success(), "curl {url} failed");
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    let key = "\"PowerState\"";
    let at = body
        .find(key)
        .unwrap_or_else(|| panic!("no PowerState in {body}"));
    let rest = &body[at + key.len()..];
    let start = rest.find('"').unwrap() + 1;
    let end = rest[start..].find('"').unwrap() + start;
    rest[start..end].to_owned()
}

/// `fence_redfish -o ACTION` against the sushy-tools system as admin with `password`,
/// plus `extra` options.
fn redfish(action: &str, password: &str, extra: &[&str]) -> Run {
    let port = peer_var("REDFISH_PORT");
    let uri = peer_var("REDFISH_SYSTEMS_URI");
    let mut args = vec![
        "-o",
        action,
        "-a",
        "127.0.0.1",
        "-u",
        &port,
        "-l",
        "admin",
        "-p",
        password,
        "--systems-uri",
        &uri,
    ];
    args.extend_from_slice(extra);
    argv("fence_redfish", &args)
}

/// `fence_redfish -o ACTION` with the right password, trusting the emulator's CA.
fn run(action: &str) -> Run {
    let ca = peer_var("REDFISH_CA");
    redfish(
        action,
        "password",
        &["--ssl-ca-file", &ca, "--power-wait=0"],
    )
}

#[test]
fn status_off_on_reboot_monitor_through_the_command_line() {
    let _g = SYSTEM.lock().unwrap_or_else(|e| e.into_inner());
    let r = run("on");
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(curl_state(), "On");

    let r = run("status");
    expect(&r, 0, "Status: ON\n");

    let r = run("off");
    expect(&r, 0, "Success: Powered OFF\n");
    assert_eq!(curl_state(), "Off");
    let r = run("status");
    expect(&r, 2, "Status: OFF\n");
    let r = run("off");
    expect(&r, 0, "Success: Already OFF\n");

    let r = run("on");
    expect(&r, 0, "Success: Powered ON\n");
    assert_eq!(curl_state(), "On");
    let r = run("on");
    expect(&r, 0, "Success: Already ON\n");

    let r = run("reboot");
    expect(&r, 0, "Success: Rebooted\n");
    assert_eq!(curl_state(), "On");

    let r = run("monitor");
    expect(&r, 0, "");
    let r = run("validate-all");
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
}

#[test]
fn pacemaker_style_stdin_with_old_names_and_the_ip_port_form() {
    let _g = SYSTEM.lock().unwrap_or_else(|e| e.into_inner());
    let port = peer_var("REDFISH_PORT");
    let ca = peer_var("REDFISH_CA");
    let uri = peer_var("REDFISH_SYSTEMS_URI");
    let base = [
        format!("ip=127.0.0.1:{port}"),
        "login=admin".to_owned(),
        "passwd=password".to_owned(),
        format!("ssl_ca_file={ca}"),
        format!("systems-uri={uri}"),
        "nodename=node1".to_owned(),
        "port=node1".to_owned(),
        "power_wait=0".to_owned(),
    ];
    let with = |action: &str| {
        let mut l = vec![format!("action={action}")];
        l.extend(base.iter().cloned());
        stdin("fence_redfish", &l)
    };
    let r = with("off");
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(curl_state(), "Off");
    let r = with("status");
    assert_eq!(r.code, 2, "{}", r.all());
    // Pacemaker's reboot: the node ends up on again.
    let r = with("reboot");
    expect(&r, 0, "Success: Rebooted\n");
    assert_eq!(curl_state(), "On");
    let r = with("monitor");
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn wrong_password_fails_with_a_failed_line_and_no_password_in_output() {
    let ca = peer_var("REDFISH_CA");
    let r = redfish("status", "Wrong-Pass-7731", &["--ssl-ca-file", &ca, "-vvv"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("ERROR: Failed: "), "{}", r.all());
    assert!(!r.all().contains("Wrong-Pass-7731"), "{}", r.all());
}

#[test]
fn unverified_certificate_is_refused_by_default() {
    let r = redfish("status", "password", &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    let r = redfish("status", "password", &["--ssl-insecure"]);
    assert!(r.code == 0 || r.code == 2, "{}", r.all());
}
