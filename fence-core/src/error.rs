//! The one public error type of the framework.
//!
//! Backends fold their private failures into [`Error`]; callers match on
//! [`Error::kind`] and ask [`Error::retry`] whether trying again can help. Only the CLI
//! flattens errors into fence-agents' exit code 1 and `Failed: ...` lines.
//!
//! Error messages never contain credentials: backends build them from addresses, status
//! codes and the device's own words, never from the options that hold secrets.

use std::time::Duration;

use crate::power::PowerState;

/// A boxed source error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of the framework.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in the terms a caller acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The options or arguments are wrong; nothing was sent to the device.
    InvalidInput,
    /// The device answered but refused the credentials.
    LoginRefused,
    /// The device did not answer (refused connection, no reply within the timeout, DNS).
    Unreachable,
    /// The device broke its protocol, or said it switched and did not.
    Misbehaved,
    /// The plug (VM, outlet, system) does not exist on the device.
    PlugNotFound,
    /// The target did not reach the wanted power state within `power_timeout`.
    PowerTimeout,
    /// The device or backend cannot do what was asked.
    Unsupported,
    /// The operation was interrupted (signal, cancellation).
    Interrupted,
    /// The device refused the command because of a state that passes by itself (a VM that
    /// is starting, stopping or saving; a machine whose state is being changed by someone
    /// else): the engine sends it again within `power_timeout`.
    Busy,
}

/// Whether retrying the same request can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Retry {
    /// The same request will fail the same way: fix the input or the device first.
    Never,
    /// A later attempt may succeed (network trouble, a busy or slow device).
    Later,
}

/// A fencing error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The options or arguments are wrong; the message is meant for the user as it is.
    #[error("{message}")]
    InvalidInput {
        /// What is wrong with the input.
        message: String,
    },
    /// The device refused the credentials.
    #[error("Unable to connect/login to fencing device: {detail}")]
    LoginRefused {
        /// What the device said (never the credentials).
        detail: String,
    },
    /// The device could not be reached.
    #[error("Unable to connect/login to fencing device: {detail}")]
    Unreachable {
        /// Which address, and what failed (refused, timed out after N s, ...).
        detail: String,
        /// The underlying I/O or transport error.
        #[source]
        source: Option<BoxError>,
    },
    /// The device broke its protocol or did not do what it acknowledged.
    #[error("Device misbehaved: {detail}")]
    Misbehaved {
        /// What the device did wrong.
        detail: String,
    },
    /// The plug does not exist on the device.
    #[error("Plug not found: {plug}")]
    PlugNotFound {
        /// The plug as the user gave it.
        plug: String,
        /// The device's own message, when it gave one.
        detail: String,
    },
    /// The target did not reach the wanted state in time.
    #[error("Timed out waiting to power {}", .target.as_upper_str())]
    PowerTimeout {
        /// The state that was waited for.
        target: PowerState,
    },
    /// The device or backend cannot do this.
    #[error("Unsupported: {what}")]
    Unsupported {
        /// What is not supported.
        what: String,
    },
    /// The operation was interrupted before it finished.
    #[error("Interrupted: {detail}")]
    Interrupted {
        /// What interrupted it.
        detail: String,
    },
    /// The device cannot take the command in the machine's present state, which passes by
    /// itself; the same command may be accepted a moment later.
    #[error("Device busy: {detail}")]
    Busy {
        /// What the device said, and the state it named.
        detail: String,
    },
}

impl Error {
    /// An invalid-input error with a user-facing message.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
        }
    }

    /// A login-refused error.
    pub fn login_refused(detail: impl Into<String>) -> Self {
        Error::LoginRefused {
            detail: detail.into(),
        }
    }

    /// An unreachable-device error without a source.
    pub fn unreachable(detail: impl Into<String>) -> Self {
        Error::Unreachable {
            detail: detail.into(),
            source: None,
        }
    }

    /// An unreachable-device error with its underlying cause.
    pub fn unreachable_with(detail: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Unreachable {
            detail: detail.into(),
            source: Some(source.into()),
        }
    }

    /// A device-misbehaved error.
    pub fn misbehaved(detail: impl Into<String>) -> Self {
        Error::Misbehaved {
            detail: detail.into(),
        }
    }

    /// A plug-not-found error.
    pub fn plug_not_found(plug: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::PlugNotFound {
            plug: plug.into(),
            detail: detail.into(),
        }
    }

    /// An unsupported-operation error.
    pub fn unsupported(what: impl Into<String>) -> Self {
        Error::Unsupported { what: what.into() }
    }

    /// An interrupted-operation error.
    pub fn interrupted(detail: impl Into<String>) -> Self {
        Error::Interrupted {
            detail: detail.into(),
        }
    }

    /// A busy-device error: the command was refused in a state that passes by itself.
    pub fn busy(detail: impl Into<String>) -> Self {
        Error::Busy {
            detail: detail.into(),
        }
    }

    /// The kind of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
            Error::LoginRefused { .. } => ErrorKind::LoginRefused,
            Error::Unreachable { .. } => ErrorKind::Unreachable,
            Error::Misbehaved { .. } => ErrorKind::Misbehaved,
            Error::PlugNotFound { .. } => ErrorKind::PlugNotFound,
            Error::PowerTimeout { .. } => ErrorKind::PowerTimeout,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Interrupted { .. } => ErrorKind::Interrupted,
            Error::Busy { .. } => ErrorKind::Busy,
        }
    }

    /// Whether a retry of the same request can help.
    pub fn retry(&self) -> Retry {
        match self.kind() {
            ErrorKind::Unreachable
            | ErrorKind::PowerTimeout
            | ErrorKind::Misbehaved
            | ErrorKind::Interrupted
            | ErrorKind::Busy => Retry::Later,
            _ => Retry::Never,
        }
    }

    /// True when a retry of the same request can help.
    pub fn is_retryable(&self) -> bool {
        self.retry() == Retry::Later
    }
}

/// A bound as error messages name it: `5 s`, `0.5 s` (`"no answer within 5 s"`).
pub fn seconds_text(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_printed_plainly() {
        assert_eq!(seconds_text(Duration::from_secs(5)), "5 s");
        assert_eq!(seconds_text(Duration::from_millis(500)), "0.5 s");
        assert_eq!(seconds_text(Duration::from_millis(300)), "0.3 s");
    }

    #[test]
    fn power_timeout_message_matches_fence_agents() {
        let e = Error::PowerTimeout {
            target: PowerState::Off,
        };
        assert_eq!(e.to_string(), "Timed out waiting to power OFF");
        assert_eq!(e.kind(), ErrorKind::PowerTimeout);
        assert!(e.is_retryable());
    }

    #[test]
    fn bad_input_is_not_retryable() {
        let e = Error::invalid_input("Failed: You have to set login name");
        assert_eq!(e.retry(), Retry::Never);
        assert_eq!(e.to_string(), "Failed: You have to set login name");
    }

    #[test]
    fn login_refused_is_not_retryable_but_unreachable_is() {
        assert!(!Error::login_refused("RAKP 2: bad HMAC").is_retryable());
        assert!(Error::unreachable("127.0.0.1:623: no answer within 2 s").is_retryable());
    }
}
