//! Logging as fence-agents does it, on top of `tracing`.
//!
//! - Before the options are read (parse warnings), messages use Python's `basicConfig`
//!   format `LEVEL:root:message`, as fence-agents' early messages do.
//! - Afterwards every event goes to stderr (unless `quiet`) and to `debug_file` in the
//!   format `%(asctime)-15s %(levelname)s: %(message)s`, e.g.
//!   `2026-11-22 01:34:42,246 ERROR: Failed: ...`. The level is WARNING, or DEBUG with
//!   `verbose` / `verbose_level > 0`.
//! - Every logged line also goes to syslog (`/dev/log`, facility user, ident = the invoked
//!   name), as fence-agents' `SyslogLibHandler` does; `quiet` does not affect it. Without a
//!   syslog socket nothing is sent.
//! - Secrets are values, not text: the agent's own lines (every event logged by a fence-rs
//!   crate) are built without secret values (`Secret` prints `[redacted]`, `Options`'
//!   `Debug` hides the rows marked secret) and are never scrubbed, so a password equal to a
//!   word of our wording changes nothing. Text from outside is scrubbed of the secret
//!   values (password, Kg key, password script and notify command text, the script's
//!   output) where it comes in: echoed input ([`early_echo`], [`scrub_outside`]), script
//!   stderr, device messages (by the backends). The libraries below us (hyper, reqwest,
//!   rustls) are never handed a secret to log (reqwest marks the `Authorization` and
//!   `X-Auth-Token` headers sensitive); their lines are their own fixed wording, logged up to
//!   DEBUG and not scrubbed: scrubbing `connecting to ...` would tell a password `connect`.
//!   tests/tests/secrets.rs checks every output at `verbose_level=5` for every form of the
//!   secrets, tests/tests/password_independence.rs that the password's value changes
//!   nothing.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// The values that must never be written anywhere.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Set once an early message was logged: Python's `basicConfig` handler is then installed
/// on the root logger, and fence-agents prints every later message twice on stderr (once
/// as `LEVEL:root:message`, unaffected by `quiet`, once in its own format).
static EARLY_USED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// One part of an early message: our wording, or text echoed from the input.
enum Part {
    Ours(String),
    Echoed(String),
}

/// Early messages held back until the secrets are known (an echoed line may come before
/// the secret option on the same input).
static EARLY: Mutex<Vec<Vec<Part>>> = Mutex::new(Vec::new());

/// The text that replaces a secret in text from outside.
pub(crate) const REDACTED: &str = fence_core::secret::REDACTED;

/// Registers a secret value; it is scrubbed from every later piece of outside text (and
/// from the echoed parts of held-back early messages). Our own wording is never scrubbed.
pub(crate) fn add_secret(value: &str) {
    let value = value.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return;
    }
    if let Ok(mut s) = SECRETS.lock() {
        if !s.iter().any(|v| v == value) {
            s.push(value.to_owned());
        }
    }
}

/// Removes every registered secret from `text`, which came from outside (an echoed input
/// value, a script's stderr, another crate's log event): see
/// [`fence_core::secret::scrub_outside`] for the rule (short secrets only as whole words).
pub(crate) fn scrub_outside(text: &str) -> String {
    let Ok(secrets) = SECRETS.lock() else {
        return text.to_owned();
    };
    fence_core::secret::scrub_outside(text, secrets.iter().map(String::as_str))
}

fn hold(level: &str, mut parts: Vec<Part>) {
    EARLY_USED.store(true, std::sync::atomic::Ordering::Relaxed);
    parts.insert(0, Part::Ours(format!("{level}:root:")));
    parts.push(Part::Ours("\n".to_owned()));
    match EARLY.lock() {
        Ok(mut q) => q.push(parts),
        Err(_) => eprint!("{}", render(&parts)),
    }
}

fn render(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Ours(t) => t.clone(),
            Part::Echoed(t) => scrub_outside(t),
        })
        .collect()
}

/// A message of our own wording logged before logging is set up, in Python's `basicConfig`
/// format, held back until [`flush_early`].
pub(crate) fn early(level: &str, message: &str) {
    hold(level, vec![Part::Ours(message.to_owned())]);
}

/// [`early`] for a message that echoes input: `before`, then `echoed` (scrubbed of the
/// secrets when written), then `after`.
pub(crate) fn early_echo(level: &str, before: &str, echoed: &str, after: &str) {
    hold(
        level,
        vec![
            Part::Ours(before.to_owned()),
            Part::Echoed(echoed.to_owned()),
            Part::Ours(after.to_owned()),
        ],
    );
}

/// Writes the held-back early messages to stderr.
pub(crate) fn flush_early() {
    let messages: Vec<Vec<Part>> = EARLY
        .lock()
        .map(|mut q| q.drain(..).collect())
        .unwrap_or_default();
    let mut err = std::io::stderr().lock();
    for parts in messages {
        let _ = err.write_all(render(&parts).as_bytes());
    }
}

/// The most detail logged from the libraries below us (hyper, reqwest, rustls): their debug
/// lines (connections, handshakes) but not their trace lines, which may describe wire
/// content.
const LIBRARY_MAX: Level = Level::DEBUG;

/// Whether an event's text is our own wording (logged by a fence-rs crate: built without
/// secrets, never scrubbed) rather than a library's (hyper, reqwest, rustls: their own fixed
/// wording about connections, also never scrubbed, and at most [`LIBRARY_MAX`]).
fn is_ours(target: &str) -> bool {
    target.starts_with("fence_")
}

/// Where the log goes and how much of it.
#[derive(Debug, Default)]
pub(crate) struct LogConfig {
    /// The syslog ident (the invoked program name).
    pub ident: String,
    /// DEBUG instead of WARNING.
    pub verbose: bool,
    /// No stderr output.
    pub quiet: bool,
}

/// The lines on their way to the `debug_file`, and the writer's end signal.
struct DebugFile {
    lines: std::sync::mpsc::SyncSender<String>,
    done: std::sync::mpsc::Receiver<()>,
}

/// The `debug_file`'s writer, once attached.
static DEBUG_FILE: Mutex<Option<DebugFile>> = Mutex::new(None);

/// How many lines may wait for a slow `debug_file` before later ones are dropped.
const DEBUG_FILE_QUEUE: usize = 4096;

/// Lines dropped because the `debug_file` did not keep up.
static DEBUG_FILE_DROPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sends every later line to `file` as well (fence-agents' `debug_file`). A thread of its
/// own writes them, so a slow or hung file system never holds up the agent: lines beyond
/// [`DEBUG_FILE_QUEUE`] waiting ones are dropped (and counted), and [`finish`] waits for
/// the rest only for a bound.
pub(crate) fn attach_debug_file(mut file: File) {
    let (lines, queue) = std::sync::mpsc::sync_channel::<String>(DEBUG_FILE_QUEUE);
    let (signal, done) = std::sync::mpsc::sync_channel(1);
    let writer = std::thread::Builder::new()
        .name("debug-file".into())
        .spawn(move || {
            for line in queue {
                let _ = file.write_all(line.as_bytes());
            }
            let _ = signal.send(());
        });
    if writer.is_ok() {
        if let Ok(mut slot) = DEBUG_FILE.lock() {
            *slot = Some(DebugFile { lines, done });
        }
    }
}

/// Hands a line to the `debug_file` writer without waiting.
fn to_debug_file(text: &str) {
    if let Ok(slot) = DEBUG_FILE.lock() {
        if let Some(d) = slot.as_ref() {
            if d.lines.try_send(text.to_owned()).is_err() {
                DEBUG_FILE_DROPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

/// Ends the `debug_file`: waits at most `bound` for the lines still queued to be written.
/// Lines dropped on the way are reported on stderr.
pub(crate) fn finish(bound: std::time::Duration) {
    let taken = DEBUG_FILE.lock().ok().and_then(|mut slot| slot.take());
    if let Some(DebugFile { lines, done }) = taken {
        drop(lines);
        let written = done.recv_timeout(bound).is_ok();
        let dropped = DEBUG_FILE_DROPPED.load(std::sync::atomic::Ordering::Relaxed);
        if !written || dropped > 0 {
            let _ = writeln!(
                std::io::stderr().lock(),
                "WARNING: debug_file: the file system did not keep up; {} lines dropped{}",
                dropped,
                if written {
                    ""
                } else {
                    ", the last ones may be missing"
                }
            );
        }
    }
}

/// fence-agents' level names.
fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

/// Collects an event's message and fields as `message key=value ...`.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

/// The layer that writes fence-agents' log lines.
struct FenceAgentsLayer {
    max: Level,
    stderr: bool,
    syslog: Option<(UnixDatagram, String)>,
}

/// syslog severity of a level (facility user = 1).
fn syslog_priority(level: &Level) -> u8 {
    8 + match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

impl<S: Subscriber> Layer<S> for FenceAgentsLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let max = if is_ours(meta.target()) {
            self.max
        } else {
            self.max.min(LIBRARY_MAX)
        };
        if *meta.level() > max {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        let body = format!("{}{}", line.message, line.fields);
        let stamp = chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f");
        let text = format!("{stamp} {}: {body}\n", level_name(meta.level()));
        if EARLY_USED.load(std::sync::atomic::Ordering::Relaxed) {
            let root = format!("{}:root:{body}\n", level_name(meta.level()));
            let _ = std::io::stderr().lock().write_all(root.as_bytes());
        }
        if self.stderr {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
        if let Some((sock, ident)) = &self.syslog {
            let stamp = chrono::Local::now().format("%b %e %H:%M:%S");
            let msg = body.replace('\0', "\n");
            let _ = sock.send(
                format!("<{}>{stamp} {ident}: {msg}", syslog_priority(meta.level())).as_bytes(),
            );
        }
        to_debug_file(&text);
    }
}

/// Installs the logger for the rest of the run.
pub(crate) fn init(config: LogConfig) {
    let layer = FenceAgentsLayer {
        max: if config.verbose {
            Level::TRACE
        } else {
            Level::WARN
        },
        stderr: !config.quiet,
        syslog: UnixDatagram::unbound()
            .and_then(|s| s.connect("/dev/log").map(|()| s))
            .ok()
            .map(|s| {
                let _ = s.set_nonblocking(true);
                (s, config.ident)
            }),
    };
    let subscriber = tracing_subscriber::registry().with(layer);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// fence-agents' `fail_usage(message)`: the message, then the usage hint, each followed
/// by a blank line.
pub(crate) fn fail_usage(message: &str) {
    if !message.is_empty() {
        tracing::error!("{message}\n");
    }
    tracing::error!("Please use '-h' for usage\n");
}

/// fence-agents' `fail(code)`: the message followed by two blank lines.
pub(crate) fn fail(message: &str) {
    tracing::error!("{message}\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_is_scrubbed_longest_first_and_short_secrets_as_words() {
        add_secret("hunter2");
        add_secret("hunter2hunter2");
        add_secret("ab");
        assert_eq!(scrub_outside("pw=hunter2hunter2 x"), "pw=[redacted] x");
        assert_eq!(scrub_outside("hunter2"), "[redacted]");
        assert_eq!(scrub_outside("nothing"), "nothing");
        assert_eq!(scrub_outside("'ab' tab"), "'[redacted]' tab");
    }

    #[test]
    fn only_the_echoed_part_of_an_early_message_is_scrubbed() {
        add_secret("option");
        let parts = vec![
            Part::Ours("Ignoring unknown option '".into()),
            Part::Echoed("x=option".into()),
            Part::Ours("'".into()),
        ];
        assert_eq!(render(&parts), "Ignoring unknown option 'x=[redacted]'");
    }

    #[test]
    fn events_of_fence_crates_are_ours() {
        assert!(is_ours("fence_cli::run"));
        assert!(is_ours("fence_ipmi::client"));
        assert!(!is_ours("hyper::proto"));
    }
}
