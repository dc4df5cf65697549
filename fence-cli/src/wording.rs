//! fence-agents' wording. The library crates say what went wrong as data
//! ([`fence_core::Error`], [`fence_core::InputProblem`]); the `Failed: ...` and
//! `Parse error: ...` lines, and fence-agents' fixed sentences for each case, are made here
//! and nowhere else.

use fence_core::params::ParamTable;
use fence_core::{Error, InputProblem};

use crate::input::Spelling;

/// fence-agents' `EC_STATUS` message.
pub(crate) const EC_STATUS: &str =
    "Failed: Unable to obtain correct plug status or plug is not available";
/// fence-agents' `EC_LOGIN_DENIED` message.
pub(crate) const EC_LOGIN_DENIED: &str = "Unable to connect/login to fencing device";
/// fence-agents' `EC_TIMED_OUT` message.
pub(crate) const EC_TIMED_OUT: &str = "Connection timed out";

/// The line between our `Failed: ...` line and fence-agents' fixed message for the same
/// situation: that message repeats the failure, it is not a second one. fence-agents'
/// message itself stays exactly as fence-agents prints it (tools match on the whole line,
/// and the CLI tests compare it with the Python agents' last line).
pub(crate) const REPEATED_BELOW: &str =
    "The next line is fence-agents' message for the same failure (for tools that match on it).";

/// The `Failed: ...` (or, for an option that is ignored, `Parse error: ...`) line naming
/// the cause of an error, followed by the options that would resolve it (the error's
/// remedies), spelt as the user gave options.
/// A boolean remedy (empty value) on a command line also names the option's short form
/// from `table`, the agent's: `--lanplus (-P)`.
pub(crate) fn failed_line(e: &Error, spelling: Spelling, table: &ParamTable) -> String {
    let line = cause_line(e);
    let remedies: Vec<String> = e
        .context()
        .map(|c| {
            c.remedies
                .iter()
                .map(|r| {
                    let mut setting = spelling.setting(r.option, &r.value);
                    let short = table.get(r.option).and_then(|row| row.short);
                    if let (Spelling::Flags, "", Some(short)) = (spelling, r.value.as_str(), short)
                    {
                        setting.push_str(&format!(" (-{short})"));
                    }
                    format!("{}: {setting}", r.purpose)
                })
                .collect()
        })
        .unwrap_or_default();
    if remedies.is_empty() {
        line
    } else {
        format!("{line} ({})", remedies.join("; "))
    }
}

/// [`failed_line`] without the remedies.
fn cause_line(e: &Error) -> String {
    match e {
        Error::InvalidInput { option, problem } => input_line(option.as_deref(), problem),
        Error::LoginRefused { detail, .. } | Error::Unreachable { detail, .. } => {
            format!("Failed: {EC_LOGIN_DENIED}: {detail}")
        }
        Error::PlugNotFound { plug, detail, .. } if !detail.is_empty() => {
            format!("Failed: Plug not found: {plug} ({detail})")
        }
        Error::PowerTimeout { target } => {
            format!(
                "Failed: Timed out waiting to power {}",
                target.as_upper_str()
            )
        }
        other => format!("Failed: {other}"),
    }
}

/// fence-agents' message for what is wrong with `option` (a canonical name such as
/// `power_wait`; the message names it as the long option `--power-wait`).
pub(crate) fn input_line(option: Option<&str>, problem: &InputProblem) -> String {
    let long = option.map(|o| o.replace('_', "-"));
    let long = long.as_deref().unwrap_or("?");
    match (problem, option) {
        (InputProblem::Missing, Some(name)) => match MISSING.iter().find(|(n, _)| *n == name) {
            Some((_, sentence)) => format!("Failed: {sentence}"),
            None => format!("Failed: You have to enter --{long}"),
        },
        (InputProblem::NotInteger, _) => {
            format!("Failed: The value you have entered for --{long} is not a valid integer")
        }
        (InputProblem::NotSeconds, _) => format!(
            "Failed: The value you have entered for --{long} is not a valid time in seconds"
        ),
        (InputProblem::NotAChoice { choices, given }, _) => {
            let mut line = format!(
                "Failed: You have to enter a valid choice for --{long} from the valid values: {}",
                choices.join(", ")
            );
            if let Some(g) = given {
                line.push_str(&format!(" (got '{g}')"));
            }
            line
        }
        (InputProblem::UnknownOption, _) => {
            format!(
                "Parse error: Ignoring unknown option '{}'",
                option.unwrap_or("?")
            )
        }
        (InputProblem::NotABoolean, _) => format!(
            "Parse error: Ignoring option '{}' because it does not have value",
            option.unwrap_or("?")
        ),
        (InputProblem::Unusable { reason }, Some(_)) => format!("Failed: --{long}: {reason}"),
        (InputProblem::Unusable { reason }, None) => format!("Failed: {reason}"),
        (other, option) => format!(
            "Failed: {}",
            Error::InvalidInput {
                option: option.map(str::to_owned),
                problem: other.clone(),
            }
        ),
    }
}

/// fence-agents' sentence for a missing option (fencing.py's `_validate_input` and
/// `check_input`), by canonical option name.
const MISSING: &[(&str, &str)] = &[
    ("ip", "You have to enter fence address"),
    ("username", "You have to set login name"),
    ("password", "You have to enter password or password script"),
    (
        "plug",
        "You have to enter plug number or machine identification",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use fence_core::Remedy;

    fn failed_line_flags(e: &Error) -> String {
        failed_line(e, Spelling::Flags, &ParamTable::new())
    }

    #[test]
    fn a_boolean_remedy_is_a_flag_or_one() {
        let e = Error::unsupported("bmc:623: the BMC does not offer MD5").with_remedy(Remedy::new(
            "the BMC may require IPMI v2.0",
            "lanplus",
            "",
        ));
        let none = ParamTable::new();
        assert_eq!(
            failed_line(&e, Spelling::Flags, &none),
            "Failed: Unsupported: bmc:623: the BMC does not offer MD5 (the BMC may require IPMI \
             v2.0: --lanplus)"
        );
        let ipmilan = crate::agents::Agent::by_name("fence_ipmilan")
            .expect("agent")
            .table();
        assert_eq!(
            failed_line(&e, Spelling::Flags, &ipmilan),
            "Failed: Unsupported: bmc:623: the BMC does not offer MD5 (the BMC may require IPMI \
             v2.0: --lanplus (-P))"
        );
        assert_eq!(
            failed_line(&e, Spelling::Stdin, &ipmilan),
            "Failed: Unsupported: bmc:623: the BMC does not offer MD5 (the BMC may require IPMI \
             v2.0: lanplus=1)"
        );
    }

    #[test]
    fn remedies_are_spelt_as_the_options_were_given() {
        let e = Error::login_refused("https://10.0.0.5:443: TLS certificate not accepted")
            .with_remedy(Remedy::new("trust it", "ssl_ca_file", "FILE"))
            .with_remedy(Remedy::new("or pin it", "ssl_fingerprint", "sha256//AAAA"));
        assert_eq!(
            failed_line(&e, Spelling::Flags, &ParamTable::new()),
            "Failed: Unable to connect/login to fencing device: https://10.0.0.5:443: TLS \
             certificate not accepted (trust it: --ssl-ca-file=FILE; or pin it: \
             --ssl-fingerprint=sha256//AAAA)"
        );
        assert_eq!(
            failed_line(&e, Spelling::Stdin, &ParamTable::new()),
            "Failed: Unable to connect/login to fencing device: https://10.0.0.5:443: TLS \
             certificate not accepted (trust it: ssl_ca_file=FILE; or pin it: \
             ssl_fingerprint=sha256//AAAA)"
        );
    }
    use fence_core::PowerState;

    #[test]
    fn library_errors_become_fence_agents_lines() {
        assert_eq!(
            failed_line_flags(&Error::missing("ip")),
            "Failed: You have to enter fence address"
        );
        assert_eq!(
            failed_line_flags(&Error::missing("plug")),
            "Failed: You have to enter plug number or machine identification"
        );
        assert_eq!(
            failed_line_flags(&Error::input("power_wait", InputProblem::NotSeconds)),
            "Failed: The value you have entered for --power-wait is not a valid time in seconds"
        );
        assert_eq!(
            failed_line_flags(&Error::input(
                "host_os",
                InputProblem::NotAChoice {
                    choices: vec!["linux".into(), "macos".into()],
                    given: Some("beos".into()),
                }
            )),
            "Failed: You have to enter a valid choice for --host-os from the valid values: \
             linux, macos (got 'beos')"
        );
        assert_eq!(
            failed_line_flags(&Error::invalid_input(
                "IPMI user names are at most 16 bytes"
            )),
            "Failed: IPMI user names are at most 16 bytes"
        );
        assert_eq!(
            failed_line_flags(&Error::invalid_option("ipport", "70000 is not a TCP port")),
            "Failed: --ipport: 70000 is not a TCP port"
        );
        assert_eq!(
            failed_line_flags(&Error::login_refused("RAKP 2: wrong password")),
            "Failed: Unable to connect/login to fencing device: RAKP 2: wrong password"
        );
        assert_eq!(
            failed_line_flags(&Error::PowerTimeout {
                target: PowerState::Off
            }),
            "Failed: Timed out waiting to power OFF"
        );
        assert_eq!(
            failed_line_flags(&Error::input("bogus", InputProblem::UnknownOption)),
            "Parse error: Ignoring unknown option 'bogus'"
        );
    }
}
