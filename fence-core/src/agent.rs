//! Agent descriptors: everything a fence-agents front end (fence-cli, or a vendor's own
//! binary) needs to know about the agents a backend serves, as data.
//!
//! A backend crate exports one [`AgentFamily`]: its personas ([`Persona`]: the agent names
//! fence-agents knows, with their descriptions and defaults), the texts of the metadata,
//! the plug semantics, whether credentials are required, the actions it accepts, how
//! fence-agents words its failures, its parameter rows and the constructor of its device.
//! The front end reads only this; it never names a backend.

use crate::device::FenceDevice;
use crate::error::Result;
use crate::params::{Options, ParamSpec};

/// The agents one backend serves, and how to build its device.
#[derive(Clone, Copy)]
pub struct AgentFamily {
    /// The personas, the main agent first (`fence_ipmilan`, then its aliases). Metadata of
    /// every persona uses the main one's `shortdesc`; the others are listed as its
    /// `<symlink>`s.
    pub personas: &'static [Persona],
    /// The metadata `<longdesc>`, with troff markup (`\n.P\n` between paragraphs) as
    /// fence-agents writes it; `{invoked}` stands for the name the program was called by.
    pub longdesc: &'static str,
    /// The metadata `<vendor-url>` (may be empty).
    pub vendor_url: &'static str,
    /// What a plug is to these agents.
    pub plugs: Plugs,
    /// True when a password, a password script (or an identity file, where the agent has
    /// one) must be given.
    pub needs_password: bool,
    /// True when the `diag` action (an NMI) is offered.
    pub accepts_diag: bool,
    /// How fence-agents' agent words the last line of a failed run.
    pub failure: FailureWording,
    /// The backend's own parameter rows (the rows every agent has are the front end's).
    pub params: fn() -> Vec<ParamSpec>,
    /// Builds the device from parsed options; must do no I/O.
    pub build: fn(&Options) -> Result<Box<dyn FenceDevice>>,
}

impl std::fmt::Debug for AgentFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.personas.iter().map(|p| p.name).collect();
        f.debug_struct("AgentFamily")
            .field("personas", &names)
            .field("plugs", &self.plugs)
            .finish_non_exhaustive()
    }
}

impl AgentFamily {
    /// The main persona (`fence_ipmilan`), the first; `None` for a family without personas.
    pub fn main(&self) -> Option<&'static Persona> {
        self.personas.first()
    }

    /// The main persona's name (`fence_ipmilan`), empty for a family without personas.
    pub fn main_name(&self) -> &'static str {
        self.main().map_or("", |p| p.name)
    }

    /// The metadata `<longdesc>` for a program called `invoked`.
    pub fn longdesc_for(&self, invoked: &str) -> String {
        self.longdesc.replace("{invoked}", invoked)
    }
}

/// One agent name fence-agents knows (`fence_ilo3`), served by a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persona {
    /// The fence-agents name.
    pub name: &'static str,
    /// Its one-line description: the metadata `shortdesc` for the main persona, the
    /// `<symlink>` description for the others.
    pub shortdesc: &'static str,
    /// Parameter defaults this name changes (`basename(argv[0])` in fence-agents:
    /// fence_ilo3 has `power_wait=4` and `lanplus=1`), by parameter name.
    pub defaults: &'static [(&'static str, &'static str)],
}

/// What a plug is to an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plugs {
    /// No plugs: one device, one machine. fence-agents gives such agents `port_as_ip` (the
    /// plug may carry the address), makes `plug` optional and drops `separator`.
    PortAsIp,
    /// Named plugs (VMs, outlets) that must be given; `list` and `list-status` are offered.
    Named,
}

/// A last line fence-agents prints for a failure (`fail(EC_...)` / `fail_usage(...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureLine {
    /// fence-agents' `EC_STATUS` message (the CLI holds its text).
    Status,
    /// fence-agents' `EC_LOGIN_DENIED` message.
    LoginDenied,
    /// fence-agents' `EC_TIMED_OUT` message.
    TimedOut,
    /// fence-agents' `fail_usage(text)`: the text as a failure line (none when empty), then
    /// the pointer to `-h`. The text is the agent's reason alone; the CLI adds the prefix.
    Usage(&'static str),
    /// Nothing more than the line naming the cause.
    Nothing,
}

/// How an agent of fence-agents words the end of a failed run, so that tools matching on
/// those lines keep working. The first rule that applies is taken, in field order; when
/// none does, an unsupported action or an interruption adds nothing and anything else is
/// [`FailureLine::Status`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureWording {
    /// When the plug does not exist.
    pub plug_not_found: Option<FailureLine>,
    /// When the login was refused or the device not reached.
    pub login_or_unreachable: Option<FailureLine>,
    /// For every failure (after the two above).
    pub any: Option<FailureLine>,
    /// When a power cycle (`method=cycle`) or `diag` failed.
    pub cycle: Option<FailureLine>,
}

impl FailureWording {
    /// The line for a failure of `kind`; `cycle` when the run was a power cycle or a diag.
    pub fn line(&self, kind: crate::ErrorKind, cycle: bool) -> FailureLine {
        use crate::ErrorKind;
        let rules = [
            (kind == ErrorKind::PlugNotFound, self.plug_not_found),
            (
                matches!(kind, ErrorKind::LoginRefused | ErrorKind::Unreachable),
                self.login_or_unreachable,
            ),
            (true, self.any),
            (cycle, self.cycle),
        ];
        if let Some(line) = rules
            .iter()
            .find_map(|(applies, line)| line.filter(|_| *applies))
        {
            return line;
        }
        match kind {
            ErrorKind::Unsupported | ErrorKind::Interrupted => FailureLine::Nothing,
            _ => FailureLine::Status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn rules_apply_in_order_then_the_default() {
        let w = FailureWording {
            plug_not_found: Some(FailureLine::Usage("no such VM")),
            login_or_unreachable: Some(FailureLine::LoginDenied),
            ..FailureWording::default()
        };
        assert_eq!(
            w.line(ErrorKind::PlugNotFound, false),
            FailureLine::Usage("no such VM")
        );
        assert_eq!(
            w.line(ErrorKind::Unreachable, false),
            FailureLine::LoginDenied
        );
        assert_eq!(w.line(ErrorKind::Misbehaved, false), FailureLine::Status);
        assert_eq!(w.line(ErrorKind::Unsupported, false), FailureLine::Nothing);
        let cycle = FailureWording {
            cycle: Some(FailureLine::TimedOut),
            ..FailureWording::default()
        };
        assert_eq!(
            cycle.line(ErrorKind::Misbehaved, true),
            FailureLine::TimedOut
        );
        assert_eq!(
            cycle.line(ErrorKind::Unsupported, true),
            FailureLine::TimedOut
        );
        assert_eq!(
            cycle.line(ErrorKind::Misbehaved, false),
            FailureLine::Status
        );
        let any = FailureWording {
            any: Some(FailureLine::Usage("")),
            ..FailureWording::default()
        };
        assert_eq!(
            any.line(ErrorKind::Unsupported, false),
            FailureLine::Usage("")
        );
    }
}
