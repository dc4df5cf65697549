//! The power vocabulary: states, actions and outcomes as closed enums.
//!
//! No power state travels as a string inside the framework: backends translate their
//! device's words (`"Chassis Power is on"`, `"PowerState": "Off"`, `list runningvms`) into
//! [`PowerState`] at the edge, and the CLI translates [`Outcome`] into fence-agents' exact
//! messages at the other edge.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, InputProblem};

/// The power state of a machine (a plug, an outlet, a system behind a BMC).
///
/// Two states only, as fence-agents knows them: anything that is not reported as
/// definitely off (for example Redfish's `PoweringOff`) counts as [`PowerState::On`],
/// because a machine that may still run must not be taken for fenced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    /// The machine is (or may be) running.
    On,
    /// The machine is off: this is the only state that proves a node fenced.
    Off,
}

impl PowerState {
    /// The lowercase word used in list-status output and logs: `on` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            PowerState::On => "on",
            PowerState::Off => "off",
        }
    }

    /// The uppercase word used in fence-agents' messages: `ON` or `OFF`.
    pub fn as_upper_str(self) -> &'static str {
        match self {
            PowerState::On => "ON",
            PowerState::Off => "OFF",
        }
    }

    /// The other state.
    pub fn opposite(self) -> PowerState {
        match self {
            PowerState::On => PowerState::Off,
            PowerState::Off => PowerState::On,
        }
    }
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_upper_str())
    }
}

/// An action of the fence-agents protocol (`action=` on stdin, `-o` on the command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Switch the target on and verify it is on.
    On,
    /// Switch the target off and verify it is off.
    Off,
    /// Off (verified), then on; or a power cycle with `method=cycle`.
    Reboot,
    /// Read the power state (exit 0 for on, 2 for off).
    Status,
    /// List the device's outlets (`id,alias`).
    List,
    /// List the outlets with their state (`id,alias,state`).
    ListStatus,
    /// Check that the device answers.
    Monitor,
    /// Print the agent's metadata XML.
    Metadata,
    /// Print the metadata in the form used to build the man page.
    Manpage,
    /// Check the arguments without contacting the device.
    ValidateAll,
    /// Send a diagnostic interrupt (NMI).
    Diag,
}

impl Action {
    /// Every action, in the order fence-agents lists them in metadata.
    pub const ALL: [Action; 11] = [
        Action::On,
        Action::Off,
        Action::Reboot,
        Action::Status,
        Action::List,
        Action::ListStatus,
        Action::Monitor,
        Action::Metadata,
        Action::Manpage,
        Action::ValidateAll,
        Action::Diag,
    ];

    /// The protocol's name of the action (`list-status`, `validate-all`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::On => "on",
            Action::Off => "off",
            Action::Reboot => "reboot",
            Action::Status => "status",
            Action::List => "list",
            Action::ListStatus => "list-status",
            Action::Monitor => "monitor",
            Action::Metadata => "metadata",
            Action::Manpage => "manpage",
            Action::ValidateAll => "validate-all",
            Action::Diag => "diag",
        }
    }

    /// True for `off` and `reboot`: the actions that switch a machine off, and the only ones
    /// `delay` applies to (as in fence-agents).
    pub fn is_fencing(self) -> bool {
        matches!(self, Action::Off | Action::Reboot)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = Error;

    /// Parses an action as fence-agents does: case-insensitively, with `meta-data` meaning
    /// `metadata`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        if lower == "meta-data" {
            return Ok(Action::Metadata);
        }
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| Error::invalid_input(format!("Unrecognised action '{s}'")))
    }
}

/// How a reboot is carried out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RebootMethod {
    /// Off, verified by a status read, then on (fence-agents' `onoff`, the default).
    #[default]
    OnOff,
    /// One power-cycle command (fence-agents' `cycle`); the off phase cannot be observed.
    Cycle,
}

impl FromStr for RebootMethod {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "onoff" => Ok(RebootMethod::OnOff),
            "cycle" => Ok(RebootMethod::Cycle),
            _ => Err(Error::input(
                "method",
                InputProblem::NotAChoice {
                    choices: vec!["onoff".to_owned(), "cycle".to_owned()],
                    given: Some(s.to_owned()),
                },
            )),
        }
    }
}

/// What a successful action achieved; the CLI turns it into fence-agents' exact output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// `on`: the target was switched on and a status read saw it on.
    PoweredOn,
    /// `off`: the target was switched off and a status read saw it off.
    PoweredOff,
    /// `on`: the first status read already saw it on.
    AlreadyOn,
    /// `off`: the first status read already saw it off.
    AlreadyOff,
    /// `reboot`: the off phase was verified (or, with `method=cycle`, the cycle accepted).
    /// `power_on_failed` says whether the on phase failed; the node is fenced either way.
    Rebooted {
        /// True when a status read saw the node off; false only for `method=cycle`, whose
        /// off phase cannot be observed.
        off_verified: bool,
        /// True when the node stayed off because the on phase failed.
        power_on_failed: bool,
    },
    /// `diag`: the diagnostic interrupt was accepted by the device.
    DiagSent,
    /// `status`: the state read.
    Status {
        /// The power state of the target (on if any of several plugs is on).
        state: PowerState,
    },
    /// `list` / `list-status`: the device's outlets.
    Listed {
        /// The outlets in the order the device gave them.
        outlets: Vec<crate::device::Outlet>,
    },
    /// `monitor`: the device answered.
    Monitored,
}
