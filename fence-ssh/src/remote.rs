//! One host as a backend drives it: a session opened on first use and kept, scripts run on
//! it with their completion proven, a session that failed dropped (the next script logs in
//! again), and text from the host scrubbed of the password before it enters a message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use fence_core::{Error, Result};

use crate::script::{Script, Shell, StepOutput, random_tag};
use crate::session::SshSession;
use crate::target::SshTarget;

/// Logins and remote commands of one [`Remote`], readable while it works.
#[derive(Debug, Default)]
pub struct Counters {
    logins: AtomicU64,
    commands: AtomicU64,
}

impl Counters {
    /// SSH logins made (1 in a run without failures).
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// Remote commands (SSH channels) run; one channel may run several steps.
    pub fn commands(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }
}

/// A host reached over SSH, with the session of this run. Blocking: use it from tokio's
/// blocking pool, one call at a time (a backend keeps it behind a mutex).
pub struct Remote {
    target: SshTarget,
    shell: Shell,
    session: Option<SshSession>,
    tag: String,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("target", &self.target)
            .field("shell", &self.shell)
            .field("logged_in", &self.session.is_some())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// The host of `target`, whose shell is `shell`. No I/O: the first script logs in.
    pub fn new(target: SshTarget, shell: Shell) -> Remote {
        Remote {
            target,
            shell,
            session: None,
            tag: random_tag(),
            counters: Arc::default(),
        }
    }

    /// Where and how it logs in.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// Its counters (shared: they stay readable while a script runs).
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// An empty script for this host (its shell, this run's marker tag).
    pub fn script(&self) -> Script {
        Script::new(&self.tag, self.shell)
    }

    /// Runs a script on one channel (logging in first if needed) and returns each step's
    /// output; output without its completion markers is an error, and a session that
    /// failed is dropped.
    pub fn run(&mut self, script: &Script) -> Result<Vec<StepOutput>> {
        if self.session.is_none() {
            let session = SshSession::connect(&self.target)?;
            self.counters.logins.fetch_add(1, Ordering::Relaxed);
            self.session = Some(session);
        }
        let Some(session) = self.session.as_ref() else {
            return Err(Error::misbehaved("SSH session vanished"));
        };
        let shown = script.summary();
        let started = Instant::now();
        self.counters.commands.fetch_add(1, Ordering::Relaxed);
        let out = match session.exec(&script.render(), script.bounds(), &shown) {
            Ok(out) => out,
            Err(e) => {
                tracing::debug!(command = %shown, error = %e, "remote command failed; dropping the session");
                self.session = None;
                return Err(e);
            }
        };
        tracing::debug!(
            command = %shown, status = out.status, elapsed = ?started.elapsed(),
            "remote command"
        );
        script.split(&out).map_err(|what| {
            tracing::debug!(
                command = %shown,
                stdout = %self.scrubbed(&out.stdout),
                stderr = %self.scrubbed(&out.stderr),
                "incomplete output"
            );
            Error::misbehaved(format!(
                "{}: `{shown}` did not finish: {what} (the connection or the host's shell cut it short; nothing is read from it)",
                self.target.address()
            ))
        })
    }

    /// Runs one command.
    pub fn run_one(&mut self, command: String) -> Result<StepOutput> {
        let script = self.script().step(command);
        self.run(&script)?
            .pop()
            .ok_or_else(|| Error::misbehaved("a script returned no output"))
    }

    /// Text from the host (a wrapper or sudo may echo anything), scrubbed of the password
    /// where it enters a message or a log line; the data itself is parsed unscrubbed.
    pub fn scrubbed(&self, text: &str) -> String {
        match &self.target.password {
            Some(pw) => fence_core::secret::scrub_outside(text, [pw.expose()]),
            None => text.to_owned(),
        }
    }

    /// Ends the session, if one is open.
    pub fn disconnect(&mut self) {
        if let Some(session) = self.session.take() {
            session.disconnect();
        }
    }
}
