//! The one runner of agent binaries in the tests: `fence-agent` under a persona name, a
//! vendor's agent, or a Python fence agent, with arguments or with Pacemaker-style stdin,
//! always outside Pacemaker (no `PCMK_service`), with what it printed and how long it took.
//! Every wait has a bound: a run that outlives it is killed and reported as such.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The bound of a run that names none: longer than any agent's own timeouts in the tests.
pub const RUN_BOUND: Duration = Duration::from_secs(120);

/// The `fence-agent` binary: `$FENCE_AGENT_BIN`, else the one cargo built next to the
/// running test (`target/<profile>/deps/<test>` -> `target/<profile>/fence-agent`; `cargo
/// test --workspace` builds it, `cargo build -p fence-cli` otherwise). Missing is a failure.
pub fn agent_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("FENCE_AGENT_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
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
#[derive(Debug, Clone)]
pub struct Run {
    /// The exit code (-1 when a signal ended it).
    pub code: i32,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
    /// From start to exit.
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

    /// The exit code and both outputs, labelled, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {}\nstdout:\n{}stderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A program to run: its path, the arguments before the test's own (the persona of the
/// multi-call binary) and extra environment variables.
#[derive(Debug, Clone)]
pub struct Program {
    path: PathBuf,
    leading: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl Program {
    /// The program at `path`.
    pub fn new(path: impl AsRef<Path>) -> Program {
        Program {
            path: path.as_ref().to_owned(),
            leading: Vec::new(),
            env: Vec::new(),
        }
    }

    /// `fence-agent PERSONA` ([`agent_bin`]).
    pub fn agent(persona: &str) -> Program {
        Program::new(agent_bin()).arg(persona)
    }

    /// The same with one more leading argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Program {
        self.leading.push(arg.as_ref().to_owned());
        self
    }

    /// The same with an environment variable set.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Program {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Starts it with `args`, its output piped, `stdin` written and closed.
    pub fn spawn<S: AsRef<OsStr>>(&self, args: &[S], stdin: &[u8]) -> Child {
        let mut cmd = Command::new(&self.path);
        cmd.args(&self.leading)
            .args(args)
            .env_remove("PCMK_service")
            .env("PYTHONWARNINGS", "ignore")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.path.display()));
        // A program that exits before reading all of it is judged by its exit and output.
        let _ = child.stdin.take().unwrap().write_all(stdin);
        child
    }

    /// Runs it to its end, at most [`RUN_BOUND`] (a failure past it).
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S], stdin: &[u8]) -> Run {
        self.run_within(args, stdin, RUN_BOUND).unwrap_or_else(|| {
            panic!(
                "{} still running after {RUN_BOUND:?} (killed)",
                self.path.display()
            )
        })
    }

    /// Runs it, at most `bound`: `None` when it was still running then (it is killed).
    pub fn run_within<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        stdin: &[u8],
        bound: Duration,
    ) -> Option<Run> {
        finish_within(self.spawn(args, stdin), Instant::now(), bound)
    }

    /// Runs it with `lines` (one `key=value` each) on stdin, as Pacemaker calls an agent.
    pub fn run_stdin(&self, lines: &[String]) -> Run {
        let mut text = lines.join("\n");
        text.push('\n');
        self.run::<&str>(&[], text.as_bytes())
    }
}

/// Waits for `child` (started at `started`) at most `bound`, reading its output meanwhile
/// (a full pipe never stalls it); `None` when it was still running then (it is killed).
fn finish_within(child: Child, started: Instant, bound: Duration) -> Option<Run> {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(bound) {
        Ok(out) => Some(Run::from(out.unwrap(), started.elapsed())),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            // Reaped by the waiting thread once whatever it started closes its output too.
            let _ = rx.recv_timeout(Duration::from_secs(1));
            None
        }
    }
}

/// `fence-agent PERSONA args...`.
pub fn argv(persona: &str, args: &[&str]) -> Run {
    Program::agent(persona).run(args, b"")
}

/// `fence-agent PERSONA` reading `lines` (one `key=value` each) on stdin.
pub fn stdin(persona: &str, lines: &[String]) -> Run {
    Program::agent(persona).run_stdin(lines)
}

/// `fence-agent PERSONA args...` from an async test, without blocking its runtime (the
/// simulated devices run on it).
pub async fn argv_async(persona: &str, args: Vec<String>) -> Run {
    let persona = persona.to_owned();
    tokio::task::spawn_blocking(move || Program::agent(&persona).run(&args, b""))
        .await
        .unwrap()
}

/// `fence-agent PERSONA` with `key=value` lines on stdin, from an async test.
pub async fn stdin_async(persona: &str, lines: Vec<String>) -> Run {
    let persona = persona.to_owned();
    tokio::task::spawn_blocking(move || Program::agent(&persona).run_stdin(&lines))
        .await
        .unwrap()
}

/// Waits for a started `child` at most `bound`, from an async test; `None` when it was
/// still running then (it is killed). `elapsed` counts from this call.
pub async fn finish(child: Child, bound: Duration) -> Option<Run> {
    let started = Instant::now();
    tokio::task::spawn_blocking(move || finish_within(child, started, bound))
        .await
        .unwrap()
}

/// Sends `signal` (`TERM`, `INT`, `KILL`) to a child with kill(1).
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} failed");
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

/// Asserts a run's exit code and its whole stdout; on failure shows all it printed.
#[track_caller]
pub fn expect(r: &Run, code: i32, stdout: &str) {
    assert_eq!((r.code, r.stdout.as_str()), (code, stdout), "{}", r.all());
}

/// Asserts a failed run: exit 1, no `Success` on stdout, `needle` on stderr, and an elapsed
/// time within `within`.
#[track_caller]
pub fn assert_failed(run: &Run, needle: &str, within: Duration) {
    assert_eq!(run.code, 1, "expected exit 1:\n{}", run.all());
    assert!(
        !run.stdout.contains("Success"),
        "a failure printed success:\n{}",
        run.all()
    );
    assert!(
        run.stderr.contains(needle),
        "expected {needle:?} on stderr:\n{}",
        run.all()
    );
    assert!(
        run.elapsed <= within,
        "took {:?}, the bound is {within:?}:\n{}",
        run.elapsed,
        run.all()
    );
}

/// A fresh directory under the system's temporary directory, readable by everyone (scripts
/// that a test runs as another user read it).
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!(
        "fence-rs-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_reports_code_output_and_stdin_and_a_hang_is_bounded() {
        let sh = Program::new("/bin/sh").arg("-c");
        let r = sh.run(
            &["read x; echo \"got $x\"; echo err >&2; exit 3"],
            b"hello\n",
        );
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (3, "got hello\n", "err\n")
        );
        let r = sh.clone().env("FOO", "bar").run(&["echo $FOO"], b"");
        expect(&r, 0, "bar\n");
        let started = Instant::now();
        assert!(
            sh.run_within(&["sleep 30"], b"", Duration::from_millis(300))
                .is_none()
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
