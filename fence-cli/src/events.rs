//! Where the agent's fencing events go: an event log file and a notify command.
//!
//! Both are optional and set by parameters every persona has (see [`params`]):
//!
//! - `event_log=PATH`: one JSON line per action (the engine's [`FenceEvent`], with
//!   `"source":"agent"` in front) is appended to PATH. See [`append_line`] for the line
//!   discipline that keeps concurrent agents (and the Pacemaker alert agent, which writes
//!   the same file) from interleaving or losing lines.
//! - `notify_command=COMMAND`: after each action COMMAND runs through `/bin/sh`, its text
//!   handed over on a pipe, never in an argv or the environment (see [`crate::script`]), with the event in `FENCE_EVENT_*` environment
//!   variables and as one JSON line on stdin. It runs in a process group of its own and is
//!   killed (the whole group) after `notify_timeout` seconds. Its exit status, output and
//!   hangs are logged; they never change the fencing result or the exit code.
//!
//! Both run after the result has been printed, so the result is never delayed; the exit
//! of the agent is delayed by at most the lock bound of the event log plus
//! `notify_timeout`.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use fence_core::FenceEvent;
use fence_core::params::{Options, ParamSpec, ParamType};
use rustix::fs::{FlockOperation, flock};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// `event_log`: the file that receives one JSON line per action.
pub(crate) const EVENT_LOG: ParamSpec = ParamSpec::new("event_log", ParamType::String)
    .long("event-log")
    .hint("path")
    .order(210)
    .desc("Append one JSON line per action (fence-rs event) to this file");
/// `notify_command`: run after each action.
pub(crate) const NOTIFY_COMMAND: ParamSpec = ParamSpec::new("notify_command", ParamType::String)
    .long("notify-command")
    .hint("command")
    .secret()
    .order(210)
    .desc("Run this command (/bin/sh) after each action, with the event in FENCE_EVENT_* variables and as JSON on stdin; its failure never changes the result");
/// `notify_timeout`: how long the notify command may run.
pub(crate) const NOTIFY_TIMEOUT: ParamSpec = ParamSpec::new("notify_timeout", ParamType::Second)
    .long("notify-timeout")
    .hint("seconds")
    .default_value("10")
    .order(210)
    .desc("Kill notify_command (its whole process group) after X seconds");

/// The default of `notify_timeout`.
const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a writer waits for the event log's lock before it appends without it (a
/// single `O_APPEND` write is still not interleaved on a local file system).
pub(crate) const LOCK_BOUND: Duration = Duration::from_secs(2);
/// How much of the notify command's stderr is kept for the log.
const STDERR_KEEP: usize = 4096;
/// After the notify command's shell has exited: how long to wait for the end of its stderr
/// (a process it left in the background may hold it open).
const STDERR_GRACE: Duration = Duration::from_millis(200);

/// The rows every persona gets.
pub(crate) fn params() -> Vec<ParamSpec> {
    vec![EVENT_LOG, NOTIFY_COMMAND, NOTIFY_TIMEOUT]
}

/// Where the events of one run go, read from the options.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Sinks {
    /// `event_log`.
    pub event_log: Option<String>,
    /// `notify_command` (may hold secrets such as a webhook token: never logged).
    pub notify_command: Option<String>,
    /// `notify_timeout`.
    pub notify_timeout: Duration,
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks")
            .field("event_log", &self.event_log)
            .field(
                "notify_command",
                &self.notify_command.as_ref().map(|_| "<redacted>"),
            )
            .field("notify_timeout", &self.notify_timeout)
            .finish()
    }
}

impl Sinks {
    /// Reads `event_log`, `notify_command` and `notify_timeout` (an unreadable timeout
    /// falls back to the default; validate-all reports it).
    pub(crate) fn from_options(options: &Options) -> Sinks {
        Sinks {
            event_log: options.non_empty("event_log").map(str::to_owned),
            notify_command: options.non_empty("notify_command").map(str::to_owned),
            notify_timeout: options
                .seconds("notify_timeout")
                .ok()
                .flatten()
                .unwrap_or(DEFAULT_NOTIFY_TIMEOUT),
        }
    }

    /// True when events go nowhere.
    pub(crate) fn is_empty(&self) -> bool {
        self.event_log.is_none() && self.notify_command.is_none()
    }

    /// Delivers every event: appends its line to the event log, then runs the notify
    /// command. Failures are logged and otherwise ignored.
    pub(crate) async fn deliver(&self, events: &[FenceEvent]) {
        for event in events {
            let line = agent_line(event);
            if let Some(path) = &self.event_log {
                match append_line(Path::new(path), &line, LOCK_BOUND) {
                    Ok(()) => {
                        tracing::debug!("event appended to {}", crate::logging::scrub_outside(path))
                    }
                    Err(e) => tracing::warn!(
                        "event_log: cannot append to {}: {e}",
                        crate::logging::scrub_outside(path)
                    ),
                }
            }
            if let Some(command) = &self.notify_command {
                let result = notify(command, event, &line, self.notify_timeout).await;
                match result {
                    NotifyResult::Exited { code: 0, .. } => {
                        tracing::debug!("notify_command exited 0")
                    }
                    NotifyResult::Exited { code, stderr } => {
                        tracing::warn!("notify_command failed (exit {code}){}", first_line(&stderr))
                    }
                    NotifyResult::Killed { stderr } => tracing::warn!(
                        "notify_command did not finish within {} s: killed its process group{}",
                        self.notify_timeout.as_secs_f64(),
                        first_line(&stderr)
                    ),
                    NotifyResult::NotStarted(e) => {
                        tracing::warn!("notify_command could not be started: {e}")
                    }
                }
            }
        }
    }
}

/// Delivers the events the engine has sent into `events` (see
/// [`fence_core::events::channel`]) to the sinks the options name.
pub(crate) async fn deliver_pending(
    options: &Options,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<FenceEvent>,
) {
    let mut pending = Vec::new();
    while let Ok(event) = events.try_recv() {
        pending.push(event);
    }
    let sinks = Sinks::from_options(options);
    if !sinks.is_empty() {
        sinks.deliver(&pending).await;
    }
}

/// The first non-empty line of the notify command's stderr, for the log: text from outside,
/// scrubbed of the secrets.
fn first_line(stderr: &str) -> String {
    match stderr.lines().find(|l| !l.trim().is_empty()) {
        Some(l) => format!(": {}", crate::logging::scrub_outside(l.trim())),
        None => String::new(),
    }
}

/// The event log line of an agent's event: [`FenceEvent::to_json_line`] with
/// `"source":"agent"` as the first field, so that one file can hold agent and Pacemaker
/// records (`"source":"pacemaker"`, see the alert module).
pub(crate) fn agent_line(event: &FenceEvent) -> String {
    let json = event.to_json_line();
    match json.strip_prefix('{') {
        Some(rest) if rest.starts_with('"') => format!("{{\"source\":\"agent\",{rest}"),
        _ => json,
    }
}

/// Appends `line` and a newline to `path` so that concurrent writers never interleave or
/// lose lines:
///
/// - the file is opened with `O_APPEND` (created with mode 0640 when missing), so every
///   write lands at the end of the file as it is at that moment;
/// - an exclusive advisory lock (`flock`) is taken, polled for at most `lock_bound`; when
///   it is not granted in time the line is appended anyway (without the lock, a single
///   `O_APPEND` write is still atomic on a local file system) and that is logged;
/// - the whole line including its newline goes out in one `write(2)`; only if the kernel
///   takes less (a full disk, a signal) is the rest written, still under the lock.
///
/// The whole append runs in a thread of its own and is waited for at most
/// [`crate::log_file::OPEN_BOUND`] plus `lock_bound`: a FIFO is refused, and a hung file
/// system costs the bound (the line is then reported as not appended), never a hang.
pub(crate) fn append_line(path: &Path, line: &str, lock_bound: Duration) -> std::io::Result<()> {
    let (owned_path, owned_line) = (path.to_owned(), line.to_owned());
    let bound = crate::log_file::OPEN_BOUND + lock_bound;
    crate::log_file::bounded(bound, move || {
        append_line_now(&owned_path, &owned_line, lock_bound)
    })
    .unwrap_or_else(|| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "not appended within {} s (a hung file system?)",
                bound.as_secs_f64()
            ),
        ))
    })
}

/// [`append_line`] in the calling thread.
fn append_line_now(path: &Path, line: &str, lock_bound: Duration) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.trim_end_matches('\n').as_bytes());
    buf.push(b'\n');
    let mut file =
        crate::log_file::open_now(path).map_err(|e| std::io::Error::other(e.to_string()))?;
    let locked = lock_exclusive(&file, lock_bound);
    if !locked {
        tracing::warn!(
            "{}: lock not granted within {} ms; appending without it",
            path.display(),
            lock_bound.as_millis()
        );
    }
    let mut written = file.write(&buf)?;
    while written < buf.len() {
        match file.write(&buf[written..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // Closing the file releases the lock.
    Ok(())
}

/// Takes an exclusive `flock` on `file`, polling for at most `bound`.
fn lock_exclusive(file: &File, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    let mut pause = Duration::from_millis(1);
    loop {
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return true,
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {}
            // No flock on this file system: O_APPEND alone it is.
            Err(_) => return false,
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// How a notify command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotifyResult {
    /// The shell exited with this code (-1 when killed by a signal of its own).
    Exited {
        /// The exit code.
        code: i32,
        /// The start of its stderr.
        stderr: String,
    },
    /// It was still running at the bound and its process group was killed.
    Killed {
        /// The start of its stderr.
        stderr: String,
    },
    /// It could not be started.
    NotStarted(String),
}

/// The `FENCE_EVENT_*` variables of an event.
pub(crate) fn env_vars(event: &FenceEvent) -> Vec<(&'static str, String)> {
    let outcome = event
        .outcome
        .as_ref()
        .and_then(|o| serde_json::to_value(o).ok())
        .and_then(|v| v.get("outcome").and_then(|o| o.as_str()).map(str::to_owned))
        .unwrap_or_default();
    vec![
        ("FENCE_EVENT_AGENT", event.agent.clone().unwrap_or_default()),
        ("FENCE_EVENT_BACKEND", event.backend.clone()),
        ("FENCE_EVENT_DEVICE", event.device.clone()),
        ("FENCE_EVENT_NODE", event.node.clone().unwrap_or_default()),
        ("FENCE_EVENT_PLUGS", event.plugs.join(",")),
        ("FENCE_EVENT_ACTION", event.action.as_str().to_owned()),
        ("FENCE_EVENT_SUCCESS", event.success.to_string()),
        ("FENCE_EVENT_RESULT", event.result_word().to_owned()),
        ("FENCE_EVENT_OUTCOME", outcome),
        ("FENCE_EVENT_ERROR", event.error.clone().unwrap_or_default()),
        ("FENCE_EVENT_OFF_VERIFIED", event.off_verified.to_string()),
        ("FENCE_EVENT_STARTED_AT", event.started_at.clone()),
        ("FENCE_EVENT_DURATION_MS", event.duration_ms.to_string()),
        ("FENCE_EVENT_ATTEMPTS", event.attempts.to_string()),
    ]
}

/// Runs `command` through `/bin/sh` (its text on a pipe, see [`crate::script`]) in a process group of its own, with the event in
/// `FENCE_EVENT_*` variables and `json` plus a newline on stdin; stdout is discarded,
/// stderr kept (its start) for the log. After `bound` the whole group gets SIGKILL.
pub(crate) async fn notify(
    command: &str,
    event: &FenceEvent,
    json: &str,
    bound: Duration,
) -> NotifyResult {
    let mut shell = match crate::script::ShellScript::new(command) {
        Ok(s) => s,
        Err(e) => return NotifyResult::NotStarted(e.to_string()),
    };
    shell
        .command()
        .envs(env_vars(event))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match shell.spawn() {
        Ok(c) => c,
        Err(e) => return NotifyResult::NotStarted(e.to_string()),
    };
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw);
    let stdin = child.stdin.take();
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = child.stderr.take().map(|pipe| {
        let keep = std::sync::Arc::clone(&stderr);
        tokio::spawn(read_start(pipe, keep))
    });
    let mut payload = json.trim_end_matches('\n').as_bytes().to_vec();
    payload.push(b'\n');
    let feed = async move {
        if let Some(mut pipe) = stdin {
            // A command that does not read stdin closes it: EPIPE is fine.
            let _ = pipe.write_all(&payload).await;
            let _ = pipe.shutdown().await;
        }
    };
    let waited = tokio::time::timeout(bound, async {
        let ((), status) = tokio::join!(feed, child.wait());
        status
    })
    .await;
    let killed = match waited {
        Ok(Err(e)) => return NotifyResult::NotStarted(e.to_string()),
        Ok(Ok(_)) => false,
        Err(_) => {
            if let Some(pgid) = pgid {
                let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
            }
            let _ = child.start_kill();
            true
        }
    };
    let status = tokio::time::timeout(Duration::from_secs(1), child.wait()).await;
    // The rest of stderr, unless a process left in the background keeps it open.
    if let Some(mut reader) = reader {
        if tokio::time::timeout(STDERR_GRACE, &mut reader)
            .await
            .is_err()
        {
            reader.abort();
        }
    }
    let stderr = stderr
        .lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    if killed {
        return NotifyResult::Killed { stderr };
    }
    let code = match status {
        Ok(Ok(s)) => s.code().unwrap_or(-1),
        _ => -1,
    };
    NotifyResult::Exited { code, stderr }
}

/// Reads a pipe to its end, keeping the first [`STDERR_KEEP`] bytes in `keep`.
async fn read_start(
    mut pipe: tokio::process::ChildStderr,
    keep: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) {
    let mut chunk = [0u8; 1024];
    while let Ok(n) = pipe.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        if let Ok(mut buf) = keep.lock() {
            if buf.len() < STDERR_KEEP {
                let n = n.min(STDERR_KEEP - buf.len());
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fence_core::{Action, Outcome};

    fn event() -> FenceEvent {
        FenceEvent {
            agent: Some("fence_rs_ipmilan".into()),
            backend: "ipmi".into(),
            device: "127.0.0.1:623".into(),
            node: Some("node-b".into()),
            plugs: vec![],
            action: Action::Reboot,
            success: true,
            outcome: Some(Outcome::Rebooted {
                off_verified: true,
                power_on_failed: false,
            }),
            error_kind: None,
            error: None,
            off_verified: true,
            reads: vec![],
            commands: vec![],
            attempts: 1,
            on_phase_error: None,
            started_at: "2026-11-22T03:21:42.123Z".into(),
            duration_ms: 1234,
        }
    }

    #[test]
    fn agent_lines_start_with_their_source_and_parse() {
        let line = agent_line(&event());
        assert!(
            line.starts_with("{\"source\":\"agent\",\"agent\":"),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["node"], "node-b");
        assert_eq!(v["action"], "reboot");
        assert_eq!(v["success"], true);
    }

    #[test]
    fn env_vars_name_the_outcome_and_result() {
        let vars: std::collections::HashMap<_, _> = env_vars(&event()).into_iter().collect();
        assert_eq!(vars["FENCE_EVENT_OUTCOME"], "rebooted");
        assert_eq!(vars["FENCE_EVENT_RESULT"], "success");
        assert_eq!(vars["FENCE_EVENT_NODE"], "node-b");
        assert_eq!(vars["FENCE_EVENT_DURATION_MS"], "1234");
        assert_eq!(vars.len(), 14);
    }

    #[test]
    fn lines_from_many_threads_are_whole() {
        let dir = std::env::temp_dir().join(format!("fence-cli-evlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        let _ = std::fs::remove_file(&path);
        let long = "x".repeat(100_000);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (path, long) = (&path, &long);
                s.spawn(move || {
                    for i in 0..25 {
                        let line = format!("{{\"t\":{t},\"i\":{i},\"pad\":\"{long}\"}}");
                        append_line(path, &line, LOCK_BOUND).unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 200);
        for l in lines {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["pad"].as_str().map(str::len), Some(100_000));
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_lock_held_too_long_delays_the_line_by_the_bound_only() {
        let dir = std::env::temp_dir().join(format!("fence-cli-evlock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        std::fs::write(&path, "").unwrap();
        let holder = File::open(&path).unwrap();
        flock(&holder, FlockOperation::LockExclusive).unwrap();
        let started = Instant::now();
        append_line(&path, "{\"a\":1}", Duration::from_millis(150)).unwrap();
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(150), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        drop(holder);
        // With the lock free again it is granted at once.
        let started = Instant::now();
        append_line(&path, "{\"a\":2}", Duration::from_secs(5)).unwrap();
        assert!(started.elapsed() < Duration::from_millis(100));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_hanging_command_is_killed_at_the_bound_with_its_children() {
        let started = Instant::now();
        let r = notify(
            "sleep 60 & sleep 60; echo never >&2",
            &event(),
            "{}",
            Duration::from_millis(300),
        )
        .await;
        assert!(matches!(r, NotifyResult::Killed { .. }), "{r:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_failing_command_reports_its_code_and_stderr() {
        let r = notify(
            "cat > /dev/null; echo \"bad $FENCE_EVENT_NODE\" >&2; exit 3",
            &event(),
            "{}",
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(
            r,
            NotifyResult::Exited {
                code: 3,
                stderr: "bad node-b\n".into()
            }
        );
    }
}
