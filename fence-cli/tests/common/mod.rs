//! Helpers shared by the CLI tests: run our binary (under a persona name) or a Python
//! fence-agents agent, with arguments or stdin, and collect what it printed.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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
];

/// What a run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    fn from(out: Output, elapsed: Duration) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed,
        }
    }

    /// stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Our binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fence-agent"))
}

/// A fresh empty directory under the target dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("fence-cli-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn run_cmd(mut cmd: Command, stdin: Option<&str>) -> Run {
    cmd.env_remove("PCMK_service")
        .env("PYTHONWARNINGS", "ignore")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    {
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            // A program that does not read stdin may exit first: EPIPE is fine.
            let _ = pipe.write_all(text.as_bytes());
        }
    }
    let out = child.wait_with_output().expect("wait");
    Run::from(out, start.elapsed())
}

/// `fence-agent AGENT args...` (argv mode; stdin is given but must not be read).
pub fn ours(agent: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.arg(agent).args(args);
    run_cmd(cmd, Some("action=off\n"))
}

/// `fence-agent AGENT` with `text` on stdin.
pub fn ours_stdin(agent: &str, text: &str) -> Run {
    let mut cmd = Command::new(bin());
    cmd.arg(agent);
    run_cmd(cmd, Some(text))
}

/// Our binary with extra environment variables.
pub fn ours_env(agent: &str, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.arg(agent).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_cmd(cmd, stdin)
}

/// The Python agent `/usr/sbin/AGENT` (a test FAILS when it is not installed).
pub fn python(agent: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let path = Path::new("/usr/sbin").join(agent);
    assert!(
        path.is_file(),
        "{} is missing: install Debian's fence-agents (tests/scripts/install-deps.sh)",
        path.display()
    );
    let mut cmd = Command::new(path);
    cmd.args(args);
    run_cmd(cmd, stdin.or(Some("")))
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
