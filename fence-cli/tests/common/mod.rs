//! Helpers shared by the CLI tests: run our binary (under a persona name) or a Python
//! fence-agents agent, with arguments or stdin, and collect what it printed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use fence_test_support::agent::Program;
#[allow(unused_imports)] // not every test file uses both
pub use fence_test_support::agent::{Run, temp_dir};

/// Every agent name the binary answers to.
pub const AGENTS: &[&str] = &[
    "fence_ipmilan",
    "fence_ilo3",
    "fence_ilo4",
    "fence_ilo5",
    "fence_ipmilanplus",
    "fence_imm",
    "fence_idrac",
    "fence_redfish",
    "fence_vbox",
    "fence_virsh",
];

/// Our binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fence-agent"))
}

/// `fence-agent AGENT args...` (argv mode; stdin is given but must not be read).
pub fn ours(agent: &str, args: &[&str]) -> Run {
    Program::new(bin()).arg(agent).run(args, b"action=off\n")
}

/// `fence-agent AGENT` with `text` on stdin.
pub fn ours_stdin(agent: &str, text: &str) -> Run {
    Program::new(bin())
        .arg(agent)
        .run::<&str>(&[], text.as_bytes())
}

/// Our binary with extra environment variables.
pub fn ours_env(agent: &str, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let program = env
        .iter()
        .fold(Program::new(bin()).arg(agent), |p, (k, v)| p.env(k, v));
    program.run(args, stdin.unwrap_or("").as_bytes())
}

/// The Python agent `/usr/sbin/AGENT` (a test FAILS when it is not installed).
pub fn python(agent: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let path = Path::new("/usr/sbin").join(agent);
    assert!(
        path.is_file(),
        "{} is missing: install Debian's fence-agents (tests/scripts/install-deps.sh)",
        path.display()
    );
    Program::new(path).run(args, stdin.unwrap_or("").as_bytes())
}

/// stderr without timestamps, to compare with the Python agents' stderr.
pub fn messages(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // "2026-11-22 03:00:15,958 ERROR: msg" -> "ERROR: msg"
            let b = l.as_bytes();
            if b.len() > 24 && b[4] == b'-' && b[10] == b' ' && b[19] == b',' {
                l[24..].to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect()
}

/// A UDP port on 127.0.0.1 that is bound by a socket which never answers; keep the
/// socket alive while the port is used.
pub fn silent_udp() -> (std::net::UdpSocket, u16) {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    let port = s.local_addr().expect("addr").port();
    (s, port)
}

/// A TCP port on 127.0.0.1 where nothing listens (bound then closed).
pub fn closed_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}
