//! The one public error type of the framework.
//!
//! Backends fold their private failures into [`Error`]; callers match on
//! [`Error::kind`] and ask [`Error::retry`] whether trying again can help (decided where
//! the error was made: an HTTP 400 is refused again, a 503 may pass). An error carries what
//! happened as data (for input: which option and what is wrong with it, an
//! [`InputProblem`]); its `Display` is a plain description (for a refused login, an
//! unreachable device and a power timeout, the sentences the event format has always
//! carried). The fence-agents lines (`Failed: ...`, `Parse error: ...`, "You have to enter
//! fence address") are the CLI's, made from the fields: this crate holds none of them.
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

/// What is wrong with an option or argument, as data: the CLI turns it into
/// fence-agents' message for the same case.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputProblem {
    /// A required option was not given, or given empty.
    Missing,
    /// The value is not an integer.
    NotInteger,
    /// The value is not a number of seconds.
    NotSeconds,
    /// The value is not one of the choices.
    NotAChoice {
        /// The values the option accepts, in the table's order.
        choices: Vec<String>,
        /// The value given, when it may be shown (a choice is never a secret).
        given: Option<String>,
    },
    /// The option does not exist (the option is the key as given).
    UnknownOption,
    /// A boolean option was given a value that is not a boolean.
    NotABoolean,
    /// The value (or the combination of values) cannot be used, for the reason given.
    Unusable {
        /// Why, in the backend's words; never the value of a secret.
        reason: String,
    },
}

impl InputProblem {
    fn describe(&self, option: Option<&str>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let option = option.unwrap_or("an option");
        match self {
            InputProblem::Missing => write!(f, "{option} is required"),
            InputProblem::NotInteger => write!(f, "{option}: not an integer"),
            InputProblem::NotSeconds => write!(f, "{option}: not a number of seconds"),
            InputProblem::NotAChoice { choices, given } => {
                write!(f, "{option}: not one of {}", choices.join(", "))?;
                match given {
                    Some(g) => write!(f, " (got '{g}')"),
                    None => Ok(()),
                }
            }
            InputProblem::UnknownOption => write!(f, "unknown option {option}"),
            InputProblem::NotABoolean => write!(f, "{option}: not a boolean"),
            InputProblem::Unusable { reason } => f.write_str(reason),
        }
    }
}

/// The `Display` of [`Error::InvalidInput`].
struct InputText<'a>(&'a Option<String>, &'a InputProblem);

impl std::fmt::Display for InputText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.1.describe(self.0.as_deref(), f)
    }
}

/// A fencing error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The options or arguments are wrong; nothing was sent to the device.
    #[error("{}", InputText(.option, .problem))]
    InvalidInput {
        /// The option concerned, by its canonical name (`ip`, `power_wait`), when one is.
        option: Option<String>,
        /// What is wrong with it.
        problem: InputProblem,
    },
    /// The device refused the credentials.
    // The Display texts of LoginRefused, Unreachable and PowerTimeout are the sentences that
    // the event format (FENCE_EVENT_ERROR, event_log, on_phase_error) and the reboot
    // on-phase log line have always carried; the CLI words its own lines from the fields.
    #[error("Unable to connect/login to fencing device: {detail}")]
    LoginRefused {
        /// What the device said (never the credentials).
        detail: String,
        /// Where, and in which exchange (see [`Error::context`]).
        context: Option<Box<Context>>,
    },
    /// The device could not be reached.
    #[error("Unable to connect/login to fencing device: {detail}")]
    Unreachable {
        /// Which address, and what failed (refused, timed out after N s, ...).
        detail: String,
        /// The underlying I/O or transport error.
        #[source]
        source: Option<BoxError>,
        /// Where, and in which exchange.
        context: Option<Box<Context>>,
    },
    /// The device broke its protocol or did not do what it acknowledged.
    #[error("Device misbehaved: {detail}")]
    Misbehaved {
        /// What the device did wrong.
        detail: String,
        /// Whether the same request can succeed later: decided where the error is made
        /// (a protocol slip or an HTTP 5xx may pass; an HTTP 400 is refused again).
        retry: Retry,
        /// Where, and in which exchange.
        context: Option<Box<Context>>,
    },
    /// The plug does not exist on the device.
    #[error("Plug not found: {plug}")]
    PlugNotFound {
        /// The plug as the user gave it.
        plug: String,
        /// The device's own message, when it gave one.
        detail: String,
        /// Where, and in which exchange.
        context: Option<Box<Context>>,
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
        /// Where, and in which exchange, when a device said so.
        context: Option<Box<Context>>,
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
        /// Where, and in which exchange.
        context: Option<Box<Context>>,
    },
}

/// Where a device error happened and in which exchange, as data: the backend, the device's
/// address, the request that failed and what the device answered to it. Never a secret:
/// requests are named by method and path or by command, answers by status and the device's
/// own (scrubbed) words. The `Display` of the error already says the same in prose; this is
/// for a program that acts on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Context {
    /// The backend that made the error (`ipmi`, `redfish`, `vbox`, a vendor's name).
    pub backend: Option<&'static str>,
    /// The device's address as configured (`host:port`, a URL's origin).
    pub address: Option<String>,
    /// The request that failed, in the protocol's terms (`POST /redfish/v1/Systems/1/Actions/
    /// ComputerSystem.Reset`, `Chassis Control`, `VBoxManage controlvm poweroff`).
    pub request: Option<String>,
    /// What the device answered to it, when it answered.
    pub answer: Option<Answer>,
    /// Options that would resolve the error, in the order to try them.
    pub remedies: Vec<Remedy>,
}

/// An option that would resolve an error, as data: the CLI names it the way the user gave
/// the options (`--ssl-ca-file=FILE` on a command line, `ssl_ca_file=FILE` on stdin).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Remedy {
    /// What it does, in plain words (`trust the BMC's own certificate`).
    pub purpose: &'static str,
    /// The option, by its canonical name (`ssl_ca_file`).
    pub option: &'static str,
    /// The value to give it (`FILE`, a fingerprint to check on the device and pin; `1`).
    /// Empty for a boolean to switch on, which the CLI spells as a flag (`--lanplus`) or
    /// as `lanplus=1` on stdin.
    pub value: String,
}

impl Remedy {
    /// A remedy: set `option` to `value`, which does `purpose`.
    pub fn new(purpose: &'static str, option: &'static str, value: impl Into<String>) -> Self {
        Remedy {
            purpose,
            option,
            value: value.into(),
        }
    }
}

/// What a device answered to a request that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// An HTTP status, with the Redfish `MessageId`s of the body and the service's message.
    Http {
        /// The status code.
        status: u16,
        /// `error.code` and `@Message.ExtendedInfo[].MessageId`, in order.
        message_ids: Vec<String>,
        /// The service's own message, scrubbed of the credentials.
        message: Option<String>,
    },
    /// An IPMI completion code (a command) or RMCP+ status code (session setup).
    Ipmi {
        /// The code.
        code: u8,
    },
    /// A remote command's exit status and what it printed on stderr.
    Exit {
        /// The exit status (`None` when a signal ended it).
        status: Option<i32>,
        /// Its stderr, scrubbed of the credentials.
        stderr: String,
    },
}

impl Error {
    /// An invalid-input error that concerns no single option, or several, with the reason
    /// in plain words (no `Failed:` prefix: the CLI adds its own).
    pub fn invalid_input(reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            option: None,
            problem: InputProblem::Unusable {
                reason: reason.into(),
            },
        }
    }

    /// An option's value cannot be used, for `reason`.
    pub fn invalid_option(option: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::input(
            option,
            InputProblem::Unusable {
                reason: reason.into(),
            },
        )
    }

    /// An invalid-input error about `option`.
    pub fn input(option: impl Into<String>, problem: InputProblem) -> Self {
        Error::InvalidInput {
            option: Some(option.into()),
            problem,
        }
    }

    /// A required option is missing.
    pub fn missing(option: impl Into<String>) -> Self {
        Error::input(option, InputProblem::Missing)
    }

    /// The option concerned and what is wrong with it, for an invalid-input error.
    pub fn input_problem(&self) -> Option<(Option<&str>, &InputProblem)> {
        match self {
            Error::InvalidInput { option, problem } => Some((option.as_deref(), problem)),
            _ => None,
        }
    }

    /// A login-refused error.
    pub fn login_refused(detail: impl Into<String>) -> Self {
        Error::LoginRefused {
            detail: detail.into(),
            context: None,
        }
    }

    /// An unreachable-device error without a source.
    pub fn unreachable(detail: impl Into<String>) -> Self {
        Error::Unreachable {
            detail: detail.into(),
            source: None,
            context: None,
        }
    }

    /// An unreachable-device error with its underlying cause.
    pub fn unreachable_with(detail: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Unreachable {
            detail: detail.into(),
            source: Some(source.into()),
            context: None,
        }
    }

    /// A device-misbehaved error that a later attempt may not meet (a protocol slip, a
    /// server error).
    pub fn misbehaved(detail: impl Into<String>) -> Self {
        Error::Misbehaved {
            detail: detail.into(),
            retry: Retry::Later,
            context: None,
        }
    }

    /// The device refused the request itself (an HTTP 4xx that is not about time or load):
    /// the same request is refused again, so it is not retried.
    pub fn rejected(detail: impl Into<String>) -> Self {
        Error::Misbehaved {
            detail: detail.into(),
            retry: Retry::Never,
            context: None,
        }
    }

    /// A plug-not-found error.
    pub fn plug_not_found(plug: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::PlugNotFound {
            plug: plug.into(),
            detail: detail.into(),
            context: None,
        }
    }

    /// An unsupported-operation error.
    pub fn unsupported(what: impl Into<String>) -> Self {
        Error::Unsupported {
            what: what.into(),
            context: None,
        }
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
            context: None,
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
        match self {
            Error::Misbehaved { retry, .. } => *retry,
            Error::Unreachable { .. }
            | Error::PowerTimeout { .. }
            | Error::Interrupted { .. }
            | Error::Busy { .. } => Retry::Later,
            _ => Retry::Never,
        }
    }

    /// True when a retry of the same request can help.
    pub fn is_retryable(&self) -> bool {
        self.retry() == Retry::Later
    }

    /// Where the error happened and in which exchange, for the errors a device causes
    /// (refused login, unreachable, misbehaved, plug not found, unsupported, busy), once a
    /// backend said; `None` otherwise.
    pub fn context(&self) -> Option<&Context> {
        self.context_slot().and_then(|c| c.as_deref())
    }

    fn context_slot(&self) -> Option<&Option<Box<Context>>> {
        match self {
            Error::LoginRefused { context, .. }
            | Error::Unreachable { context, .. }
            | Error::Misbehaved { context, .. }
            | Error::PlugNotFound { context, .. }
            | Error::Unsupported { context, .. }
            | Error::Busy { context, .. } => Some(context),
            Error::InvalidInput { .. } | Error::PowerTimeout { .. } | Error::Interrupted { .. } => {
                None
            }
        }
    }

    fn edit_context(mut self, edit: impl FnOnce(&mut Context)) -> Self {
        let slot = match &mut self {
            Error::LoginRefused { context, .. }
            | Error::Unreachable { context, .. }
            | Error::Misbehaved { context, .. }
            | Error::PlugNotFound { context, .. }
            | Error::Unsupported { context, .. }
            | Error::Busy { context, .. } => context,
            Error::InvalidInput { .. } | Error::PowerTimeout { .. } | Error::Interrupted { .. } => {
                return self;
            }
        };
        edit(slot.get_or_insert_with(Box::default));
        self
    }

    /// The same error, said to come from `backend` at `address` (kept when already said: the
    /// innermost layer knows best). No effect on the errors no device causes.
    pub fn at(self, backend: &'static str, address: impl Into<String>) -> Self {
        let address = address.into();
        self.edit_context(|c| {
            c.backend.get_or_insert(backend);
            if c.address.is_none() {
                c.address = Some(address);
            }
        })
    }

    /// The same error, made by the request `request` (never with a secret in it).
    pub fn in_request(self, request: impl Into<String>) -> Self {
        let request = request.into();
        self.edit_context(|c| {
            if c.request.is_none() {
                c.request = Some(request);
            }
        })
    }

    /// The same error, with what the device answered.
    pub fn answered(self, answer: Answer) -> Self {
        self.edit_context(|c| {
            c.answer.get_or_insert(answer);
        })
    }

    /// The same error, with one more option that would resolve it.
    pub fn with_remedy(self, remedy: Remedy) -> Self {
        self.edit_context(|c| c.remedies.push(remedy))
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
    fn context_is_data_kept_from_the_innermost_layer_and_only_on_device_errors() {
        let e = Error::rejected("HTTP 400")
            .in_request("POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset")
            .answered(Answer::Http {
                status: 400,
                message_ids: vec!["Base.1.8.ActionNotSupported".into()],
                message: None,
            })
            .at("redfish", "https://10.0.0.5:443")
            .at("other", "elsewhere")
            .in_request("GET /redfish/v1");
        let c = e.context().unwrap();
        assert_eq!(c.backend, Some("redfish"));
        assert_eq!(c.address.as_deref(), Some("https://10.0.0.5:443"));
        assert_eq!(
            c.request.as_deref(),
            Some("POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset")
        );
        assert!(matches!(c.answer, Some(Answer::Http { status: 400, .. })));
        assert_eq!(e.retry(), Retry::Never, "the context changes no decision");
        assert_eq!(e.to_string(), "Device misbehaved: HTTP 400", "nor the text");

        let plain = Error::misbehaved("x");
        assert_eq!(plain.context(), None);
        let input = Error::missing("ip").at("ipmi", "10.0.0.5:623");
        assert_eq!(input.context(), None, "no device caused it");
        let timeout = Error::PowerTimeout {
            target: PowerState::Off,
        }
        .at("ipmi", "10.0.0.5:623");
        assert_eq!(timeout.context(), None);
        let code = Error::unsupported("Chassis Control")
            .answered(Answer::Ipmi { code: 0xc1 })
            .at("ipmi", "10.0.0.5:623");
        assert_eq!(
            code.context().unwrap().answer,
            Some(Answer::Ipmi { code: 0xc1 })
        );
    }

    #[test]
    fn bounds_are_printed_plainly() {
        assert_eq!(seconds_text(Duration::from_secs(5)), "5 s");
        assert_eq!(seconds_text(Duration::from_millis(500)), "0.5 s");
        assert_eq!(seconds_text(Duration::from_millis(300)), "0.3 s");
    }

    #[test]
    fn power_timeout_names_the_state() {
        let e = Error::PowerTimeout {
            target: PowerState::Off,
        };
        assert_eq!(e.to_string(), "Timed out waiting to power OFF");
        assert_eq!(e.kind(), ErrorKind::PowerTimeout);
        assert!(e.is_retryable());
    }

    #[test]
    fn bad_input_is_not_retryable_and_carries_its_option() {
        let e = Error::missing("username");
        assert_eq!(e.retry(), Retry::Never);
        assert_eq!(e.to_string(), "username is required");
        assert_eq!(
            e.input_problem(),
            Some((Some("username"), &InputProblem::Missing))
        );
        let e = Error::input(
            "method",
            InputProblem::NotAChoice {
                choices: vec!["onoff".into(), "cycle".into()],
                given: None,
            },
        );
        assert_eq!(e.to_string(), "method: not one of onoff, cycle");
        assert_eq!(
            Error::invalid_input("IPMI user names are at most 16 bytes").to_string(),
            "IPMI user names are at most 16 bytes"
        );
    }

    #[test]
    fn retry_is_decided_where_the_error_is_made() {
        assert_eq!(Error::misbehaved("HTTP 503").retry(), Retry::Later);
        assert_eq!(Error::rejected("HTTP 400").retry(), Retry::Never);
        assert_eq!(Error::rejected("HTTP 400").kind(), ErrorKind::Misbehaved);
    }

    #[test]
    fn login_refused_is_not_retryable_but_unreachable_is() {
        assert!(!Error::login_refused("RAKP 2: bad HMAC").is_retryable());
        assert!(Error::unreachable("127.0.0.1:623: no answer within 2 s").is_retryable());
    }
}
