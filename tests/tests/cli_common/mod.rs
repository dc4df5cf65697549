//! Shared by the `cli_*` interop tests: find the `fence-agent` binary and run it under an
//! agent name, with arguments or with Pacemaker-style stdin.
#![allow(dead_code, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `fence-agent` binary: `$FENCE_AGENT_BIN`, else the one cargo built next to this test
/// (`cargo test --workspace` builds it; `cargo build -p fence-cli` otherwise). Missing is a
/// failure.
pub fn agent_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("FENCE_AGENT_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> -> target/<profile>/fence-agent
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("fence-agent"))
        .unwrap();
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p fence-cli` (cargo test --workspace does), \
         or set FENCE_AGENT_BIN",
        bin.display()
    );
    bin
}

/// What a run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn all(&self) -> String {
        format!(
            "exit {}\nstdout:\n{}stderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Starts `fence-agent AGENT args...` outside Pacemaker (no `PCMK_service`) with its output
/// piped, writes `stdin` to it and closes its stdin.
pub fn spawn<S: AsRef<OsStr>>(agent: &str, args: &[S], stdin: &[u8]) -> Child {
    let mut child = Command::new(agent_bin())
        .arg(agent)
        .args(args)
        .env_remove("PCMK_service")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // An agent that exits before reading all of it is judged by its exit and output.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child
}

fn run(agent: &str, args: &[&str], stdin: &str) -> Run {
    let start = Instant::now();
    let out = spawn(agent, args, stdin.as_bytes())
        .wait_with_output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// Asserts a run's exit code and its whole stdout; on failure shows all it printed.
#[track_caller]
pub fn expect(r: &Run, code: i32, stdout: &str) {
    assert_eq!((r.code, r.stdout.as_str()), (code, stdout), "{}", r.all());
}

/// `fence-agent AGENT args...`.
pub fn argv(agent: &str, args: &[&str]) -> Run {
    run(agent, args, "")
}

/// `fence-agent AGENT` reading `lines` (one `key=value` each) on stdin, as Pacemaker calls it.
pub fn stdin(agent: &str, lines: &[String]) -> Run {
    let mut text = lines.join("\n");
    text.push('\n');
    run(agent, &[], &text)
}

/// Polls `f` every 20 ms until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
