//! Passwords, Kg keys and password-script output never appear in any output: stdout,
//! stderr or the debug file, at any verbosity, on success paths and failure paths, for
//! every agent name.

mod common;

use common::{AGENTS, closed_tcp_port, ours, ours_stdin, silent_udp, temp_dir};

const PASSWORD: &str = "Zebra-Secret-4711";
const KG: &str = "4b67536563726574303132333435363738394142";
const SCRIPTED: &str = "Scripted-Pw-8812";
const TYPO: &str = "Typo-Secret-5150";

fn assert_clean(what: &str, text: &str) {
    for secret in [PASSWORD, KG, SCRIPTED, TYPO] {
        assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
    }
}

/// Every kind of run of one agent against a device that does not answer (IPMI: a silent
/// UDP port; Redfish and vbox: a closed TCP port), checking every output.
fn check_agent(agent: &str, port: u16, dir: &std::path::Path) {
    let debug = dir.join(format!("{agent}.log"));
    let debug_s = debug.display().to_string();
    let common = format!(
        "ip=127.0.0.1\nipport={port}\nusername=admin\nplug=vm1\npower_timeout=2\n\
         login_timeout=1\nshell_timeout=1\nhexadecimal_kg={KG}\npasword={TYPO}\n"
    );
    let inputs = [
        format!("action=status\n{common}password={PASSWORD}\nverbose=1\ndebug_file={debug_s}\n"),
        format!("action=off\n{common}passwd={PASSWORD}\nverbose_level=5\ndebug={debug_s}\n"),
        format!(
            "action=reboot\n{common}password_script=echo {SCRIPTED}\nverbose=1\ndebug_file={debug_s}\n"
        ),
        format!(
            "action=monitor\n{common}password={PASSWORD}\nverbose=1\nquiet=1\ndebug_file={debug_s}\n"
        ),
    ];
    for text in &inputs {
        let run = ours_stdin(agent, text);
        assert_eq!(run.code, 1, "{agent}: {}", run.all());
        assert_clean(&format!("{agent} stdin run"), &run.all());
    }
    let port_s = port.to_string();
    let mut args = vec![
        "-o",
        "status",
        "-a",
        "127.0.0.1",
        "-u",
        &port_s,
        "-l",
        "admin",
        "-p",
        PASSWORD,
        "-vvvvv",
        "-D",
        &debug_s,
        "--power-timeout=2",
        "--login-timeout=1",
    ];
    if agent.contains("vbox") {
        args.extend(["-n", "vm1"]);
    } else if !agent.contains("redfish") {
        args.extend(["--hexadecimal-kg", KG]);
    }
    let run = ours(agent, &args);
    assert_eq!(run.code, 1, "{agent}: {}", run.all());
    assert_clean(&format!("{agent} argv run"), &run.all());
    let log = std::fs::read_to_string(&debug).expect("debug file written");
    assert!(
        log.contains(" DEBUG: "),
        "{agent}: verbose debug file has no debug lines"
    );
    assert_clean(&format!("{agent} debug file"), &log);
}

#[test]
fn no_secret_in_any_output_at_any_verbosity() {
    let (_udp, udp_port) = silent_udp();
    let tcp_port = closed_tcp_port();
    let dir = temp_dir("secrets");
    std::thread::scope(|scope| {
        for agent in AGENTS {
            let port = if agent.contains("redfish") || agent.contains("vbox") {
                tcp_port
            } else {
                udp_port
            };
            let dir = &dir;
            scope.spawn(move || check_agent(agent, port, dir));
        }
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn validate_all_and_parse_errors_do_not_echo_secrets() {
    for agent in AGENTS {
        let run = ours_stdin(
            agent,
            &format!("action=validate-all\npassword={PASSWORD}\npasword={TYPO}\nverbose=1\n"),
        );
        assert_clean(agent, &run.all());
        assert!(
            run.stderr.contains("Ignoring unknown option 'pasword="),
            "{}",
            run.stderr
        );
        let run = ours(agent, &["-p", PASSWORD, "--bogus", "-v"]);
        assert_eq!(run.code, 1);
        assert_clean(agent, &run.all());
    }
}
