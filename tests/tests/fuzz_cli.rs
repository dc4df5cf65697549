//! Hostile input to the `fence-agent` binary, black box: random stdin (Pacemaker's
//! `key=value` lines with known and unknown names, odd values, random bytes) and random
//! argv (known flags in random order with random values), for several agent names. The
//! device address is always pinned to a closed port on 127.0.0.1 at the end of the input,
//! so that no case reaches anything. Properties: the exit code is 0, 1 or 2, nothing
//! panics, and every run ends within a bound.
//!
//! Bounded for CI: `PROPTEST_CASES` (default 40 per property) runs of the binary.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fence_test_support::agent::Program;
use proptest::prelude::*;

/// Longest a single run may take: the forced 1 s timeouts, a name lookup bounded by
/// login_timeout, process start; a hang shows as a failure here.
const RUN_BOUND: Duration = Duration::from_secs(20);

const AGENTS: &[&str] = &[
    "fence_ipmilan",
    "fence_ilo3",
    "fence_idrac",
    "fence_redfish",
    "fence_vbox",
];

/// Option names the agents know (and a few they do not). Options that run programs or
/// write files (password_script, debug_file, ssh_path, sudo_path) are left out.
const NAMES: &[&str] = &[
    "action",
    "option",
    "ip",
    "ipaddr",
    "ipport",
    "username",
    "login",
    "password",
    "passwd",
    "plug",
    "port",
    "nodename",
    "port_as_ip",
    "lanplus",
    "cipher",
    "privlvl",
    "auth",
    "hexadecimal_kg",
    "method",
    "power_timeout",
    "power_wait",
    "shell_timeout",
    "login_timeout",
    "retry_on",
    "delay",
    "stonith_status_sleep",
    "verbose",
    "verbose_level",
    "quiet",
    "disable_timeout",
    "ssl",
    "ssl_insecure",
    "ssl_secure",
    "ssl_ca_file",
    "systems_uri",
    "redfish_uri",
    "auth_method",
    "plug_separator",
    "separator",
    "host_os",
    "ssh",
    "secure",
    "identity_file",
    "ssh_known_hosts_file",
    "ssh_host_key_check",
    "missing_as_off",
    "use_sudo",
    "inet4_only",
    "inet6_only",
    "ipmitool_timeout",
    "target",
    "timeout",
    "pcmk_host_map",
    "no_such_option",
    "",
];

/// Values that have broken parsers elsewhere.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("on".to_owned()),
        Just("off".to_owned()),
        Just("reboot".to_owned()),
        Just("status".to_owned()),
        Just("monitor".to_owned()),
        Just("list".to_owned()),
        Just("list-status".to_owned()),
        Just("metadata".to_owned()),
        Just("validate-all".to_owned()),
        Just("diag".to_owned()),
        Just("cycle".to_owned()),
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("1e400".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("9999999999".to_owned()),
        Just("0.0000001".to_owned()),
        Just("NaN".to_owned()),
        Just("inf".to_owned()),
        Just("[::1]:623".to_owned()),
        Just("127.0.0.1:99999".to_owned()),
        Just("abc:def:ghi".to_owned()),
        Just("zz".to_owned()),
        Just("=".to_owned()),
        Just("a,b,,c".to_owned()),
        Just("node1:1;node2:2".to_owned()),
        "[0-9a-fA-F]{0,41}",
        "[ -~]{0,24}",
        "\\PC{0,16}",
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (proptest::sample::select(NAMES), value()).prop_map(|(k, v)| format!("{k}={v}")),
        1 => "[ -~]{0,30}",
        1 => "\\PC{0,20}",
        1 => Just("#comment".to_owned()),
        1 => Just("   ".to_owned()),
    ]
}

/// A port on 127.0.0.1 where nothing listens (TCP and, most likely, UDP).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Pins the device to a closed local port with short timeouts, last so it wins.
fn pin_stdin(port: u16) -> String {
    format!(
        "ip=127.0.0.1\nipaddr=127.0.0.1\nipport={port}\nport_as_ip=0\nlogin_timeout=1\n\
         shell_timeout=1\npower_timeout=1\ndelay=0\npower_wait=0\nstonith_status_sleep=1\n"
    )
}

/// What a run did.
struct Outcome {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

fn run(agent: &str, args: &[String], stdin: &[u8]) -> Outcome {
    let start = std::time::Instant::now();
    match Program::agent(agent).run_within(args, stdin, RUN_BOUND) {
        Some(run) => Outcome {
            code: Some(run.code),
            stderr: run.stderr,
            elapsed: run.elapsed,
        },
        None => Outcome {
            code: None,
            stderr: format!("still running after {RUN_BOUND:?}"),
            elapsed: start.elapsed(),
        },
    }
}

fn check(what: &str, o: &Outcome) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(o.code, Some(0..=2)),
        "{what}: exit {:?} after {:?}\n{}",
        o.code,
        o.elapsed,
        o.stderr
    );
    prop_assert!(!o.stderr.contains("panicked"), "{what}: {}", o.stderr);
    prop_assert!(o.elapsed < RUN_BOUND, "{what}: took {:?}", o.elapsed);
    Ok(())
}

/// Fixed seed in CI, regressions kept (see `fence_core::testkit::proptest_support`).
fn config() -> ProptestConfig {
    fence_core::testkit::proptest_support::config(40)
}

/// Flags of the agents' command lines (and some that are not).
const FLAGS: &[&str] = &[
    "-o",
    "--action",
    "-a",
    "--ip",
    "-u",
    "--ipport",
    "-l",
    "--username",
    "-p",
    "--password",
    "-n",
    "--plug",
    "-P",
    "--lanplus",
    "-C",
    "--cipher",
    "-A",
    "--auth",
    "-L",
    "--privlvl",
    "-m",
    "--method",
    "--power-timeout",
    "--power-wait",
    "--shell-timeout",
    "--login-timeout",
    "--retry-on",
    "--delay",
    "-v",
    "-vv",
    "--verbose",
    "--verbose-level",
    "-q",
    "--quiet",
    "--ssl-insecure",
    "--ssl-ca-file",
    "--systems-uri",
    "--redfish-uri",
    "--auth-method",
    "--hexadecimal-kg",
    "-k",
    "-x",
    "--ssh",
    "--host-os",
    "--ssh-host-key-check",
    "--missing-as-off",
    "--plug-separator",
    "--separator",
    "--port-as-ip",
    "--disable-timeout",
    "--ipmitool-timeout",
    "-V",
    "--version",
    "-h",
    "--help",
    "-",
    "--",
    "--=",
    "-o=",
    "--power-timeout=",
    "--no-such-flag",
    "-Z",
];

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(FLAGS).prop_map(str::to_owned),
        1 => proptest::sample::select(FLAGS).prop_flat_map(|f| value().prop_map(move |v| format!("{f}={v}"))),
        2 => value(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_stdin_never_panics_or_hangs(
        agent in proptest::sample::select(AGENTS),
        lines in proptest::collection::vec(line(), 0..12),
        raw in proptest::collection::vec(any::<u8>(), 0..64),
        with_raw in any::<bool>(),
    ) {
        let mut input = lines.join("\n").into_bytes();
        if with_raw {
            input.extend_from_slice(&raw);
        }
        input.push(b'\n');
        input.extend_from_slice(pin_stdin(closed_port()).as_bytes());
        let o = run(agent, &[], &input);
        check(&format!("{agent} stdin {:?}", String::from_utf8_lossy(&input)), &o)?;
    }

    #[test]
    fn random_argv_never_panics_or_hangs(
        agent in proptest::sample::select(AGENTS),
        tokens in proptest::collection::vec(token(), 0..10),
    ) {
        let port = closed_port().to_string();
        let mut args = tokens.clone();
        args.extend(
            [
                "-a", "127.0.0.1", "-u", &port, "--login-timeout", "1", "--shell-timeout", "1",
                "--power-timeout", "1", "--delay", "0", "--power-wait", "0",
            ]
            .iter()
            .map(|s| (*s).to_owned()),
        );
        let o = run(agent, &args, b"");
        check(&format!("{agent} argv {args:?}"), &o)?;
    }
}

/// Regression: `power_timeout=18446744073709551616` (and the same through argv) panicked in
/// `Duration::from_secs_f64` (fixed in fence-core's `parse_seconds`).
#[test]
fn seconds_beyond_the_duration_range_do_not_panic() {
    let port = closed_port();
    for agent in AGENTS {
        for value in ["18446744073709551616", "1e300", "1e20"] {
            let input = format!(
                "action=off\npower_timeout={value}\nlogin_timeout={value}\nip=127.0.0.1\nipport={port}\n"
            );
            let o = run(agent, &[], input.as_bytes());
            assert!(
                matches!(o.code, Some(1)),
                "{agent} {value}: {:?}\n{}",
                o.code,
                o.stderr
            );
            assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
            let args: Vec<String> = [
                "-o",
                "off",
                "--power-timeout",
                value,
                "--delay",
                value,
                "-a",
                "127.0.0.1",
                "-u",
                &port.to_string(),
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
            let o = run(agent, &args, b"");
            assert!(
                matches!(o.code, Some(1)),
                "{agent} {value}: {:?}\n{}",
                o.code,
                o.stderr
            );
            assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
        }
    }
}
