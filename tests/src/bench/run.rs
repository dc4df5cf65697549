//! Running one agent process: timed runs (nothing between the bench and the agent) and
//! observed runs (under `/usr/bin/time` for the peak RSS, pointed at a counting relay).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// GNU time, installed by tests/scripts/install-deps.sh (Debian package `time`).
pub const GNU_TIME: &str = "/usr/bin/time";

/// One agent invocation: the program (its file name selects the agent persona) and the
/// option lines written to its standard input, as pacemaker-fenced does.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The program to start.
    pub program: PathBuf,
    /// Its arguments (none for the agents, which read standard input).
    pub args: Vec<String>,
    /// `name=value` lines for standard input.
    pub stdin: String,
}

/// What one run of an agent did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Wall time from before `fork` until the exit status was collected.
    pub wall: Duration,
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error (with `/usr/bin/time`'s line removed).
    pub stderr: String,
}

/// What an observed run adds: peak RSS and CPU time of the agent process tree.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// Peak resident set size in KiB (`ru_maxrss` of wait4: the process or the largest of
    /// the children it waited for).
    pub max_rss_kib: u64,
    /// User plus system CPU time, in seconds, of the process and its waited-for children.
    pub cpu_s: f64,
}

fn command(program: &Path) -> Command {
    let mut c = Command::new(program);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // pacemaker-fenced sets it; fence-agents then disables its timeouts. Unset for both.
        .env_remove("PCMK_service");
    c
}

fn finish(mut cmd: Command, stdin: &str) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    if let Some(mut input) = child.stdin.take() {
        // A failed write means the agent did not read its input; its output will say why.
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for {:?}: {e}", cmd.get_program()))?;
    let wall = t0.elapsed();
    Ok(Outcome {
        wall,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs the agent directly and times it.
pub fn timed(inv: &Invocation) -> Result<Outcome, String> {
    let mut cmd = command(&inv.program);
    cmd.args(&inv.args);
    finish(cmd, &inv.stdin)
}

/// Runs the agent under `/usr/bin/time` and returns its outcome and resource usage. The
/// wall time includes GNU time's own start and is not used for the timing columns.
pub fn observed(inv: &Invocation, scratch: &Path) -> Result<(Outcome, Usage), String> {
    let report = scratch.join("time.out");
    let _ = std::fs::remove_file(&report);
    let mut cmd = command(Path::new(GNU_TIME));
    cmd.arg("-f")
        .arg("%M %U %S")
        .arg("-o")
        .arg(&report)
        .arg(&inv.program)
        .args(&inv.args);
    let out = finish(cmd, &inv.stdin)?;
    let text = std::fs::read_to_string(&report)
        .map_err(|e| format!("{GNU_TIME} wrote no report to {}: {e}", report.display()))?;
    // With a non-zero exit, GNU time writes "Command exited with non-zero status N" first.
    let last = text.lines().last().unwrap_or_default();
    let fields: Vec<&str> = last.split_whitespace().collect();
    let usage = match fields.as_slice() {
        [rss, user, sys] => Usage {
            max_rss_kib: rss.parse().map_err(|_| format!("bad %M in {last:?}"))?,
            cpu_s: user.parse::<f64>().unwrap_or(0.0) + sys.parse::<f64>().unwrap_or(0.0),
        },
        _ => return Err(format!("unexpected {GNU_TIME} report {text:?}")),
    };
    Ok((out, usage))
}

/// Runs a helper command (a prepare step), bounded by `limit`; returns its stdout or an
/// error with its stderr.
pub fn helper(program: &str, args: &[&str], limit: Duration) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if t0.elapsed() < limit => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} {args:?}: no answer within {limit:?}"));
            }
            Err(e) => return Err(format!("{program}: {e}")),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{program} {args:?} failed ({}): {}{}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
