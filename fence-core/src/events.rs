//! Fencing events: every action the engine runs leaves a structured record.
//!
//! A [`FenceEvent`] says who did what to which machine, when, how it ended and how it was
//! verified (the states read, the commands sent, the attempts). It names the device by its
//! address and never carries credentials. Subscribe with [`Engine::with_observer`]
//! (a callback) or [`channel`] (a tokio channel); every event is also emitted as a
//! `tracing` event with target `fence_event`.
//!
//! [`Engine::with_observer`]: crate::engine::Engine::with_observer

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::{CommandSent, Report, StateRead};
use crate::error::ErrorKind;
use crate::power::{Action, Outcome};

/// A record of one action run by the engine.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FenceEvent {
    /// The agent name (`fence_ipmilan`), when the caller set one.
    pub agent: Option<String>,
    /// The backend (`ipmi`, `redfish`, `vbox`).
    pub backend: String,
    /// The device's address (never credentials).
    pub device: String,
    /// The node being fenced, when the caller knows it (Pacemaker's `nodename`).
    pub node: Option<String>,
    /// The plugs the action ran on.
    pub plugs: Vec<String>,
    /// The action.
    pub action: Action,
    /// `true` when the action succeeded.
    pub success: bool,
    /// What was achieved, on success.
    pub outcome: Option<Outcome>,
    /// The error kind, on failure.
    pub error_kind: Option<ErrorKind>,
    /// The error message, on failure (never credentials).
    pub error: Option<String>,
    /// Whether a status read saw the target off after the last off command.
    pub off_verified: bool,
    /// Every status read.
    pub reads: Vec<StateRead>,
    /// Every command sent.
    pub commands: Vec<CommandSent>,
    /// Set-and-verify attempts.
    pub attempts: u32,
    /// The error of a failed on phase of a reboot (the reboot still succeeded).
    pub on_phase_error: Option<String>,
    /// Start time, RFC 3339 in UTC with milliseconds.
    pub started_at: String,
    /// Duration in milliseconds.
    pub duration_ms: u64,
}

impl FenceEvent {
    /// The event of a finished run.
    pub fn from_report(
        report: &Report,
        agent: Option<&str>,
        backend: &str,
        device: &str,
        node: Option<&str>,
    ) -> FenceEvent {
        let (outcome, error_kind, error) = match &report.result {
            Ok(o) => (Some(o.clone()), None, None),
            Err(e) => (None, Some(e.kind()), Some(e.to_string())),
        };
        FenceEvent {
            agent: agent.map(str::to_owned),
            backend: backend.to_owned(),
            device: device.to_owned(),
            node: node.map(str::to_owned),
            plugs: report.plugs.clone(),
            action: report.action,
            success: report.result.is_ok(),
            outcome,
            error_kind,
            error,
            off_verified: report.off_verified(),
            reads: report.reads.clone(),
            commands: report.commands.clone(),
            attempts: report.attempts,
            on_phase_error: report.on_phase_error.clone(),
            started_at: rfc3339(report.started_at),
            duration_ms: u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The event as one line of JSON (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"error\":\"event not serialisable: {e}\"}}"))
    }

    /// A short word for the result: `success` or the error kind.
    pub fn result_word(&self) -> &'static str {
        if self.success {
            "success"
        } else {
            match self.error_kind {
                Some(ErrorKind::InvalidInput) => "invalid_input",
                Some(ErrorKind::LoginRefused) => "login_refused",
                Some(ErrorKind::Unreachable) => "unreachable",
                Some(ErrorKind::Misbehaved) => "misbehaved",
                Some(ErrorKind::PlugNotFound) => "plug_not_found",
                Some(ErrorKind::PowerTimeout) => "power_timeout",
                Some(ErrorKind::Unsupported) => "unsupported",
                Some(ErrorKind::Interrupted) => "interrupted",
                Some(ErrorKind::Busy) => "busy",
                _ => "failure",
            }
        }
    }
}

/// Something that wants to hear about every event.
pub type Observer = Arc<dyn Fn(&FenceEvent) + Send + Sync>;

/// An observer that sends every event into a tokio channel, and the receiving end.
pub fn channel() -> (Observer, tokio::sync::mpsc::UnboundedReceiver<FenceEvent>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let observer: Observer = Arc::new(move |event: &FenceEvent| {
        let _ = tx.send(event.clone());
    });
    (observer, rx)
}

/// Formats a time as RFC 3339 in UTC with milliseconds (`2026-11-22T03:01:42.123Z`).
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_317_702_123);
        assert_eq!(rfc3339(t), "2026-11-22T03:21:42.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }
}
