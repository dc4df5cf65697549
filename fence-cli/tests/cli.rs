//! The binary's behaviour on inputs fence-agents defines: parsing edge cases on stdin and
//! argv, validate-all, unknown actions and options, exit codes, and the same runs of the
//! Python agents side by side where their output is deterministic.

mod common;

use std::time::Duration;

use common::{AGENTS, Run, closed_tcp_port, messages, ours, ours_env, ours_stdin, python};

/// Runs the same stdin through ours and the Python agent; asserts equal exit codes and
/// equal stderr messages (timestamps removed) and stdout.
fn same_stdin(agent: &str, text: &str) {
    let py = python(agent, &[], Some(text));
    let rs = ours_stdin(agent, text);
    assert_same(&format!("{agent} {text:?}"), &rs, &py);
}

/// The same for a command line.
fn same_args(agent: &str, args: &[&str]) {
    let py = python(agent, args, None);
    let rs = ours(agent, args);
    assert_same(&format!("{agent} {args:?}"), &rs, &py);
}

/// Our run and the Python agent's run of `what` had equal exit codes, stdout and stderr
/// messages (timestamps removed).
#[track_caller]
fn assert_same(what: &str, rs: &Run, py: &Run) {
    assert_eq!(
        rs.code,
        py.code,
        "{what}\nours: {}\npython: {}",
        rs.all(),
        py.all()
    );
    assert_eq!(rs.stdout, py.stdout, "{what} stdout");
    assert_eq!(messages(&rs.stderr), messages(&py.stderr), "{what} stderr");
}

/// `-o status` against 127.0.0.1:`port` as admin/pw.
fn status_at(port: &str) -> Vec<&str> {
    vec![
        "-o",
        "status",
        "-a",
        "127.0.0.1",
        "-u",
        port,
        "-l",
        "admin",
        "-p",
        "pw",
    ]
}

#[test]
fn validate_all_without_required_options_lists_every_failure_like_python() {
    for agent in AGENTS {
        same_stdin(agent, "action=validate-all\n");
        same_args(agent, &["-o", "validate-all"]);
    }
}

#[test]
fn validate_all_with_required_options_succeeds_silently_like_python() {
    for agent in AGENTS {
        same_stdin(
            agent,
            "action=validate-all\nip=192.0.2.1\nusername=admin\npassword=pw\nplug=vm1\n",
        );
        same_args(
            agent,
            &[
                "-o",
                "validate-all",
                "-a",
                "192.0.2.1",
                "-l",
                "admin",
                "-p",
                "pw",
            ],
        );
    }
    // With a password script instead of a password, and old names.
    same_stdin(
        "fence_redfish",
        "action=validate-all\nipaddr=192.0.2.1\nlogin=admin\npasswd_script=false\n",
    );
}

#[test]
fn validate_all_reports_bad_values_like_python() {
    same_stdin(
        "fence_vbox",
        "action=validate-all\npower_wait=soon\nhost_os=beos\nretry_on=x\n",
    );
    same_stdin(
        "fence_ipmilan",
        "action=validate-all\nip=192.0.2.1\nauth=bogus\nprivlvl=root\nlogin_timeout=x\n",
    );
    same_args(
        "fence_redfish",
        &["-o", "validate-all", "--power-timeout=x", "-a", "192.0.2.1"],
    );
}

#[test]
fn unknown_actions_like_python() {
    same_stdin("fence_ipmilan", "action=bogus\nip=192.0.2.1\n");
    same_args("fence_vbox", &["-o", "diag", "-a", "192.0.2.1"]);
    same_args("fence_redfish", &["-o", "STATUSX"]);
}

#[test]
fn actions_are_case_insensitive_and_meta_data_is_metadata() {
    same_stdin("fence_ipmilan", "action=VALIDATE-ALL\nip=192.0.2.1\n");
    let rs = ours_stdin("fence_redfish", "action=Meta-Data\n");
    assert_eq!(rs.code, 0);
    assert!(rs.stdout.contains("<resource-agent name=\"fence_redfish\""));
}

#[test]
fn unknown_command_line_options_like_python() {
    same_args("fence_ipmilan", &["--bogus"]);
    same_args("fence_vbox", &["-o", "status", "--ip"]);
    same_args("fence_redfish", &["-Z"]);
    same_args("fence_ipmilan", &["--lanplus=1"]);
    // port_as_ip agents refuse -n without --port-as-ip on the command line.
    same_args("fence_ipmilan", &["-n", "1", "-o", "status"]);
    same_args("fence_redfish", &["--plug", "1", "-o", "status"]);
}

#[test]
fn stdin_unknown_keys_are_warned_about_and_ignored_like_python() {
    // `option=` was removed from fence-agents in 2012; names are case-sensitive.
    same_stdin(
        "fence_ipmilan",
        "foo=bar\noption=off\nACTION=status\nnodename=node1\naction=validate-all\nip=192.0.2.1\n",
    );
    // A bad boolean is ignored with a warning.
    same_stdin(
        "fence_redfish",
        "action=validate-all\nip=192.0.2.1\nusername=a\npassword=b\nssl_insecure=maybe\n",
    );
    // Comments, blank lines, CRLF, spaces around the line, quotes, `-` forms, last wins.
    same_stdin(
        "fence_vbox",
        "# comment\n\n   action=validate-all  \r\nipaddr=\"192.0.2.1\"\r\nlogin=a\npassword-script=true\n\
         power-timeout=5\nport=vm1\nport=vm2\npower_wait=x\npower_wait=2\n",
    );
}

#[test]
fn list_on_a_plugless_agent_prints_the_notice_like_python() {
    for agent in ["fence_ipmilan", "fence_idrac"] {
        let args = [
            "-o",
            "list",
            "-a",
            "192.0.2.1",
            "--ipmitool-path",
            "/bin/true",
        ];
        same_args(agent, &args);
    }
    let rs = ours(
        "fence_redfish",
        &["-o", "list-status", "-a", "192.0.2.1", "-l", "a", "-p", "b"],
    );
    assert_eq!(rs.code, 0);
    assert_eq!(
        rs.stdout,
        "NOTICE: List option is not working on this device yet\n"
    );
}

#[test]
fn argv_mode_never_reads_stdin() {
    // stdin says action=off; argv says validate-all: argv wins, stdin untouched.
    let rs = ours("fence_ipmilan", &["-o", "validate-all", "-a", "192.0.2.1"]);
    assert_eq!(rs.code, 0, "{}", rs.all());
    assert!(rs.stdout.is_empty() && rs.stderr.is_empty(), "{}", rs.all());
}

#[test]
fn help_and_version() {
    for agent in AGENTS {
        let rs = ours(agent, &["-h"]);
        assert_eq!(rs.code, 0);
        assert!(
            rs.stdout
                .starts_with(&format!("Usage:\n\t{agent} [options]\nOptions:\n")),
            "{}",
            rs.stdout
        );
        assert!(rs.stdout.contains(
            "   -o, --action=[action]          Action: on, off, reboot (default), status"
        ));
        assert!(
            rs.stdout.contains("pacemaker-fenced"),
            "the timeout rule is documented"
        );
        // Every line fits an 80-column terminal (a tab counts to the next multiple of 8).
        for line in rs.stdout.lines() {
            let columns = line.chars().fold(0, |col, c| {
                if c == '\t' {
                    (col / 8 + 1) * 8
                } else {
                    col + 1
                }
            });
            assert!(columns <= 80, "{agent} -h: {columns} columns: {line:?}");
        }
        let rs = ours(agent, &["--version"]);
        assert_eq!(rs.code, 0);
        assert_eq!(rs.stdout.trim(), env!("CARGO_PKG_VERSION"));
    }
    let rs = ours_stdin("fence_vbox", "help=1\n");
    assert!(rs.stdout.starts_with("Usage:\n"));
}

#[test]
fn redfish_against_a_closed_port_fails_fast_naming_the_address() {
    let port = closed_tcp_port();
    let port_s = port.to_string();
    let rs = ours("fence_redfish", &status_at(&port_s));
    assert_eq!(rs.code, 1, "{}", rs.all());
    assert!(rs.stdout.is_empty());
    assert!(rs.elapsed < Duration::from_secs(5), "{:?}", rs.elapsed);
    let m = messages(&rs.stderr);
    assert!(
        m.iter()
            .any(|l| l.starts_with("ERROR: Failed: ") && l.contains(&format!("127.0.0.1:{port}"))),
        "{m:?}"
    );
    // The ip:port form of fence_redfish, given on stdin with quotes.
    let rs = ours_stdin(
        "fence_redfish",
        &format!("action=off\nip=\"127.0.0.1:{port}\"\nusername=a\npassword=b\n"),
    );
    assert_eq!(rs.code, 1, "{}", rs.all());
    assert!(
        rs.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        rs.stderr
    );
}

#[test]
fn vbox_against_a_closed_port_cannot_login_like_python() {
    let port = closed_tcp_port().to_string();
    let mut args = status_at(&port);
    args.extend(["-n", "vm1"]);
    let rs = ours("fence_vbox", &args);
    let py = python("fence_vbox", &args, None);
    assert_eq!((rs.code, py.code), (1, 1), "{}", rs.all());
    let last_py = messages(&py.stderr).last().cloned();
    assert_eq!(messages(&rs.stderr).last().cloned(), last_py);
    assert!(rs.stderr.contains("Failed: "), "{}", rs.stderr);
}

#[test]
fn delay_is_served_before_off_and_not_before_status() {
    let port = closed_tcp_port().to_string();
    let base = format!("ip=127.0.0.1\nipport={port}\nusername=a\npassword=b\nplug=vm1\ndelay=1\n");
    let rs = ours_stdin("fence_vbox", &format!("action=off\n{base}"));
    assert_eq!(rs.code, 1);
    // fence-agents sleeps 1 + delay - elapsed.
    assert!(
        rs.elapsed >= Duration::from_millis(1800),
        "{:?}",
        rs.elapsed
    );
    let rs = ours_stdin("fence_vbox", &format!("action=status\n{base}"));
    assert_eq!(rs.code, 1);
    assert!(rs.elapsed < Duration::from_millis(900), "{:?}", rs.elapsed);
}

#[test]
fn debug_file_that_cannot_be_created_fails() {
    let rs = ours(
        "fence_ipmilan",
        &[
            "-o",
            "status",
            "-a",
            "192.0.2.1",
            "-D",
            "/nonexistent/dir/x.log",
        ],
    );
    assert_eq!(rs.code, 1);
    assert!(
        rs.stderr
            .contains("Failed: Unable to create file /nonexistent/dir/x.log"),
        "{}",
        rs.stderr
    );
}

#[test]
fn quiet_silences_stderr() {
    let port = closed_tcp_port().to_string();
    let rs = ours(
        "fence_redfish",
        &[
            "-q",
            "-o",
            "status",
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-l",
            "a",
            "-p",
            "b",
        ],
    );
    assert_eq!(rs.code, 1);
    assert!(rs.stderr.is_empty(), "{}", rs.stderr);
}

#[test]
fn pacemaker_environment_keeps_every_request_bounded() {
    // Under pacemaker-fenced fence-agents waits forever; here power_timeout is off but a
    // device that does not answer still fails on its own per-request bound.
    let port = closed_tcp_port().to_string();
    let rs = ours_env(
        "fence_redfish",
        &[],
        Some(&format!(
            "action=off\nip=127.0.0.1\nipport={port}\nusername=a\npassword=b\n"
        )),
        &[("PCMK_service", "pacemaker-fenced")],
    );
    assert_eq!(rs.code, 1, "{}", rs.all());
    assert!(rs.elapsed < Duration::from_secs(10));
    // A BMC that never answers (every packet lost): the session set-up is bounded by
    // login_timeout (5 s), also under Pacemaker.
    let (_sock, udp) = common::silent_udp();
    let rs = ours_env(
        "fence_ipmilanplus",
        &[],
        Some(&format!(
            "action=reboot\nip=127.0.0.1\nipport={udp}\nusername=a\npassword=b\n"
        )),
        &[("PCMK_service", "pacemaker-fenced")],
    );
    assert_eq!(rs.code, 1, "{}", rs.all());
    assert!(rs.elapsed < Duration::from_secs(9), "{:?}", rs.elapsed);
    assert!(rs.stderr.contains("ERROR: Failed: "), "{}", rs.stderr);
}

#[test]
fn ipmilan_against_a_silent_udp_port_fails_within_its_bound_like_python() {
    let (_sock, port) = common::silent_udp();
    let port = port.to_string();
    let args = status_at(&port);
    let rs = ours("fence_ipmilan", &args);
    assert_eq!(rs.code, 1, "{}", rs.all());
    assert!(rs.stdout.is_empty());
    // login_timeout (5 s by default) bounds the session set-up.
    assert!(rs.elapsed < Duration::from_secs(8), "{:?}", rs.elapsed);
    let m = messages(&rs.stderr);
    assert!(
        m.iter()
            .any(|l| l.starts_with("ERROR: Failed: ") && l.contains(&format!("127.0.0.1:{port}"))),
        "{m:?}"
    );
    let py = python("fence_ipmilan", &args, None);
    assert_eq!(py.code, 1);
    assert_eq!(
        m.last(),
        messages(&py.stderr).last(),
        "python: {}",
        py.stderr
    );
    // With an explicit login_timeout the bound follows it.
    let rs = ours_stdin(
        "fence_ilo4",
        &format!("action=off\nip=127.0.0.1\nipport={port}\nlogin_timeout=1\n"),
    );
    assert_eq!(rs.code, 1);
    assert!(rs.elapsed < Duration::from_secs(4), "{:?}", rs.elapsed);
}

#[test]
fn verbosity_and_identity_file_edge_cases_like_python() {
    // A bad or conflicting verbose_level is only warned about.
    same_args(
        "fence_ipmilan",
        &["-o", "validate-all", "-a", "x", "--verbose-level=abc"],
    );
    same_stdin(
        "fence_ipmilan",
        "action=validate-all\nip=x\nverbose=1\nverbose_level=0\n",
    );
    // An identity file must exist; its path is shown (it is not a secret).
    same_args(
        "fence_vbox",
        &[
            "-o",
            "validate-all",
            "-a",
            "x",
            "-l",
            "u",
            "-n",
            "1",
            "-k",
            "/nonexistent/key",
        ],
    );
    same_stdin(
        "fence_vbox",
        "action=validate-all\nip=x\nlogin=u\nplug=1\nsecure=0\nidentity_file=/etc/hostname\n",
    );
    // Empty values still count as given, as in fence-agents.
    same_stdin(
        "fence_vbox",
        "action=validate-all\nip=x\nlogin=u\npassword=\nplug=\n",
    );
    // Operands are warned about; `=` lines without a name are unknown options.
    same_args(
        "fence_ipmilan",
        &["-o", "validate-all", "-a", "x", "extra1", "extra2"],
    );
    same_stdin(
        "fence_vbox",
        "action=validate-all\n=x\n==\nip=x\nlogin=u\npassword=\"p\"\nplug=\"\n",
    );
}

#[test]
fn sigterm_ends_a_hanging_run_with_a_failed_line() {
    let (_sock, port) = common::silent_udp();
    let dir = common::temp_dir("sigterm");
    let log = dir.join("debug.log");
    let child = std::process::Command::new(common::bin())
        .args(["fence_ipmilan", "-o", "status", "-a", "127.0.0.1", "-u"])
        .arg(port.to_string())
        .args(["--login-timeout=30", "-v", "-D"])
        .arg(&log)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait (bounded) until the run has reached the device.
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&log).is_ok_and(|t| t.contains("status with options")) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    assert!(start.elapsed() < Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ERROR: Failed: Interrupted by a signal"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn numbers_are_checked_like_python_int_in_fence_agents_order() {
    same_stdin(
        "fence_ipmilan",
        "action=validate-all\nip=x\nlogin_timeout=1.5\nipport=x\ndelay=y\npower_timeout=z\n",
    );
    same_stdin(
        "fence_vbox",
        "action=validate-all\nip=x\nlogin=u\npassword=p\nplug=1\nretry_on= 2 \nshell_timeout=-1\n",
    );
    same_args(
        "fence_redfish",
        &[
            "-o",
            "validate-all",
            "-a",
            "x",
            "-l",
            "u",
            "-p",
            "p",
            "--power-wait=0.5",
        ],
    );
}

#[test]
fn after_an_early_warning_every_line_is_printed_twice_like_python() {
    // fence-agents' basicConfig handler: `LEVEL:root:msg`, then the timestamped line.
    same_stdin("fence_redfish", "foo=bar\naction=validate-all\n");
    same_stdin("fence_ipmilan", "verbose=0\naction=bogus\n");
    let rs = ours_stdin("fence_ipmilan", "foo=bar\naction=validate-all\nquiet=1\n");
    let py = python(
        "fence_ipmilan",
        &[],
        Some("foo=bar\naction=validate-all\nquiet=1\n"),
    );
    assert_eq!(messages(&rs.stderr), messages(&py.stderr));
    assert!(
        rs.stderr
            .contains("ERROR:root:Failed: You have to enter fence address")
    );
}
