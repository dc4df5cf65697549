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
//! - Secrets: every line written is scrubbed of the values of the secret options
//!   (password, Kg key, password script output) before it leaves the process, whatever
//!   the verbosity and whichever crate logged it.

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

/// Early messages held back until the secrets are known.
static EARLY: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The text that replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not scrubbed: replacing every `b` of a message would
/// garble it, and nothing logs secret values in the first place (this is a second line of
/// defence).
const MIN_SCRUB_LEN: usize = 4;

/// Registers a secret value; it is scrubbed from every later line (and from held-back
/// early messages).
pub fn add_secret(value: &str) {
    let value = value.trim_end_matches(['\n', '\r']);
    if value.len() < MIN_SCRUB_LEN {
        return;
    }
    if let Ok(mut s) = SECRETS.lock() {
        if !s.iter().any(|v| v == value) {
            s.push(value.to_owned());
            // Longest first, so that a secret containing another is scrubbed whole.
            s.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }
}

/// Removes every registered secret from `text`.
pub fn scrub(text: &str) -> String {
    let Ok(secrets) = SECRETS.lock() else {
        return text.to_owned();
    };
    let mut out = text.to_owned();
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), REDACTED);
        }
    }
    out
}

/// A message logged before logging is set up, in Python's `basicConfig` format. It is held
/// back until [`flush_early`] so that secrets read later on the same input are scrubbed.
pub fn early(level: &str, message: &str) {
    EARLY_USED.store(true, std::sync::atomic::Ordering::Relaxed);
    let line = format!("{level}:root:{message}\n");
    match EARLY.lock() {
        Ok(mut q) => q.push(line),
        Err(_) => eprint!("{}", scrub(&line)),
    }
}

/// Writes the held-back early messages to stderr.
pub fn flush_early() {
    let lines: Vec<String> = EARLY
        .lock()
        .map(|mut q| q.drain(..).collect())
        .unwrap_or_default();
    let mut err = std::io::stderr().lock();
    for line in lines {
        let _ = err.write_all(scrub(&line).as_bytes());
    }
}

/// Where the log goes and how much of it.
#[derive(Debug, Default)]
pub struct LogConfig {
    /// The syslog ident (the invoked program name).
    pub ident: String,
    /// DEBUG instead of WARNING.
    pub verbose: bool,
    /// No stderr output.
    pub quiet: bool,
}

/// The `debug_file`, once opened.
static DEBUG_FILE: Mutex<Option<File>> = Mutex::new(None);

/// Sends every later line to `file` as well (fence-agents' `debug_file`).
pub fn attach_debug_file(file: File) {
    if let Ok(mut slot) = DEBUG_FILE.lock() {
        *slot = Some(file);
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
        if *meta.level() > self.max {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        let stamp = chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f");
        let text = scrub(&format!(
            "{stamp} {}: {}{}\n",
            level_name(meta.level()),
            line.message,
            line.fields
        ));
        if EARLY_USED.load(std::sync::atomic::Ordering::Relaxed) {
            let root = scrub(&format!(
                "{}:root:{}{}\n",
                level_name(meta.level()),
                line.message,
                line.fields
            ));
            let _ = std::io::stderr().lock().write_all(root.as_bytes());
        }
        if self.stderr {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
        if let Some((sock, ident)) = &self.syslog {
            let stamp = chrono::Local::now().format("%b %e %H:%M:%S");
            let msg = scrub(&format!("{}{}", line.message, line.fields)).replace('\0', "\n");
            let _ = sock.send(
                format!("<{}>{stamp} {ident}: {msg}", syslog_priority(meta.level())).as_bytes(),
            );
        }
        if let Ok(mut slot) = DEBUG_FILE.lock() {
            if let Some(f) = slot.as_mut() {
                let _ = f.write_all(text.as_bytes());
            }
        }
    }
}

/// Installs the logger for the rest of the run.
pub fn init(config: LogConfig) {
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
pub fn fail_usage(message: &str) {
    if !message.is_empty() {
        tracing::error!("{message}\n");
    }
    tracing::error!("Please use '-h' for usage\n");
}

/// fence-agents' `fail(code)`: the message followed by two blank lines.
pub fn fail(message: &str) {
    tracing::error!("{message}\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_secrets_longest_first() {
        add_secret("hunter2");
        add_secret("hunter2hunter2");
        assert_eq!(scrub("pw=hunter2hunter2 x"), "pw=[redacted] x");
        assert_eq!(scrub("hunter2"), "[redacted]");
        assert_eq!(scrub("nothing"), "nothing");
    }
}
