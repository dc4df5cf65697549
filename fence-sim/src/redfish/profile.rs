//! Vendor profiles: how one family of BMCs lays out its Redfish service and answers a reset.
//!
//! A profile is data, not code: the resource ids, whether `@odata.id` values end in a slash,
//! the ResetTypes offered and where they are listed, what a reset answers when it is accepted
//! and when the system is already in the state asked for, whether HTTP basic authentication
//! is accepted, how many sessions may be open, and how a power change shows while it takes
//! effect. The sources behind every value are in the README of fence-sim ("Vendor profiles").

use std::time::Duration;

/// Where a service lists the ResetTypes it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetTypesIn {
    /// `ResetType@Redfish.AllowableValues` in the reset action.
    AllowableValues,
    /// An ActionInfo resource (`@Redfish.ActionInfo`), as OpenBMC's bmcweb publishes.
    ActionInfo,
}

/// How an accepted reset is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetAnswer {
    /// `204 No Content`.
    NoContent,
    /// `200 OK` with a Base `Success` message in `@Message.ExtendedInfo`.
    Success,
    /// `200 OK` with iLO's `error` object carrying `Base.1.4.Success` (iLO 4 and 5 answer a
    /// successful action this way).
    IloExtendedInfo,
}

/// An error answer: the HTTP status, the `error` object's `code` and `message`, and its one
/// `@Message.ExtendedInfo` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// `error.code`.
    pub code: &'static str,
    /// `error.message`.
    pub message: &'static str,
    /// The entry's `MessageId`.
    pub message_id: &'static str,
    /// The entry's `Message`.
    pub text: &'static str,
    /// The entry's `MessageArgs`.
    pub args: &'static [&'static str],
}

/// The answers to a reset into the state the system is already in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadyIn {
    /// `On` (or `ForceOn`) while on.
    pub on: Refusal,
    /// `ForceOff` (or `GracefulShutdown`) while off.
    pub off: Refusal,
}

/// How a power change shows while it takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// `PoweringOff` / `PoweringOn` until the change is done.
    Reported,
    /// The old state until the change is done.
    Hidden,
}

/// One family of BMCs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The name `--profile` takes.
    pub name: &'static str,
    /// What it models, for `--help` and the README.
    pub models: &'static str,
    /// `Manufacturer` of the systems.
    pub manufacturer: &'static str,
    /// `Model` of the systems.
    pub model: &'static str,
    /// `FirmwareVersion` of the manager.
    pub firmware: &'static str,
    /// Id of system `n` (1-based): `{n}` is replaced by the number.
    pub system_id: &'static str,
    /// Id of the first system when it differs from `system_id` (OpenBMC's `system`).
    pub first_system_id: Option<&'static str>,
    /// Id of the chassis of system `n` (`{n}` replaced).
    pub chassis_id: &'static str,
    /// Id of the chassis of the first system when it differs.
    pub first_chassis_id: Option<&'static str>,
    /// Id of the one manager.
    pub manager_id: &'static str,
    /// Whether `@odata.id` values and `Location` end in `/` (iLO 4 and 5).
    pub trailing_slash: bool,
    /// The ResetTypes offered, in the order the vendor lists them.
    pub reset_types: &'static [&'static str],
    /// Where they are listed.
    pub reset_types_in: ResetTypesIn,
    /// The answer to an accepted reset.
    pub reset_answer: ResetAnswer,
    /// The answers to `On` while on and `ForceOff`/`GracefulShutdown` while off; `None`:
    /// accepted like any reset.
    pub already: Option<AlreadyIn>,
    /// Whether HTTP basic authentication is accepted (sessions always are).
    pub basic_auth: bool,
    /// How many sessions may be open at once, and the answer to one more.
    pub session_limit: Option<(usize, Refusal)>,
    /// The session idle timeout (`SessionTimeout`).
    pub session_timeout: Duration,
    /// How a power change shows while it takes effect.
    pub transition: Transition,
    /// How long a power change takes on such a machine (the command line's default delay).
    pub typical_delay: Duration,
}

impl Profile {
    /// The id of system `n` (1-based).
    pub fn system_id(&self, n: usize) -> String {
        numbered(self.system_id, self.first_system_id, n)
    }

    /// The id of the chassis of system `n` (1-based).
    pub fn chassis_id(&self, n: usize) -> String {
        numbered(self.chassis_id, self.first_chassis_id, n)
    }

    /// The profile named `name`.
    pub fn named(name: &str) -> Option<&'static Profile> {
        PROFILES.iter().find(|p| p.name == name)
    }

    /// The names of all profiles, for messages.
    pub fn names() -> Vec<&'static str> {
        PROFILES.iter().map(|p| p.name).collect()
    }
}

fn numbered(pattern: &str, first: Option<&str>, n: usize) -> String {
    match first {
        Some(id) if n == 1 => id.to_owned(),
        _ => pattern.replace("{n}", &n.to_string()),
    }
}

/// iLO's refusal of a reset in the current power state (iLO 5 2.x registry, HTTP 400).
const ILO_STATE: Refusal = Refusal {
    status: 400,
    code: "iLO.0.10.ExtendedInfo",
    message: "See @Message.ExtendedInfo for more information.",
    message_id: "iLO.2.16.InvalidOperationForSystemState",
    text: "The operation was not successful due to the current power state (for example, \
           attempting to turn the power off when it is already off).",
    args: &[],
};

/// iDRAC's envelope of its own messages: `Base.1.5.GeneralError`, HTTP 409.
const DELL_CONFLICT: Refusal = Refusal {
    status: 409,
    code: "Base.1.5.GeneralError",
    message: "A general error has occurred. See ExtendedInfo for more information",
    message_id: "",
    text: "",
    args: &[],
};

impl Refusal {
    const fn with_args(self, args: &'static [&'static str]) -> Refusal {
        Refusal { args, ..self }
    }
}

/// The base profile: every ResetType of the Redfish schema, `204` answers, basic and
/// session authentication, transitions reported.
pub const GENERIC: Profile = Profile {
    name: "generic",
    models: "a Redfish service as DSP0266 describes it, with every ResetType",
    manufacturer: "fence-rs",
    model: "fence-sim",
    firmware: "1.0",
    system_id: "{n}",
    first_system_id: None,
    chassis_id: "{n}",
    first_chassis_id: None,
    manager_id: "1",
    trailing_slash: false,
    reset_types: &[
        "On",
        "ForceOn",
        "ForceOff",
        "GracefulShutdown",
        "ForceRestart",
        "GracefulRestart",
        "PowerCycle",
        "PushPowerButton",
        "Nmi",
    ],
    reset_types_in: ResetTypesIn::AllowableValues,
    reset_answer: ResetAnswer::NoContent,
    already: None,
    basic_auth: true,
    session_limit: None,
    session_timeout: Duration::from_secs(600),
    transition: Transition::Reported,
    typical_delay: Duration::ZERO,
};

/// HPE iLO 5.
pub const ILO5: Profile = Profile {
    name: "ilo5",
    models: "HPE iLO 5 (ProLiant Gen10)",
    manufacturer: "HPE",
    model: "ProLiant DL360 Gen10",
    firmware: "iLO 5 v2.78",
    system_id: "{n}",
    first_system_id: None,
    chassis_id: "{n}",
    first_chassis_id: None,
    manager_id: "1",
    trailing_slash: true,
    reset_types: &[
        "On",
        "ForceOff",
        "GracefulShutdown",
        "ForceRestart",
        "Nmi",
        "PushPowerButton",
        "GracefulRestart",
    ],
    reset_types_in: ResetTypesIn::AllowableValues,
    reset_answer: ResetAnswer::IloExtendedInfo,
    already: Some(AlreadyIn {
        on: ILO_STATE.with_args(&["Power is on"]),
        off: ILO_STATE.with_args(&["Power is off"]),
    }),
    basic_auth: true,
    session_limit: None,
    session_timeout: Duration::from_secs(1800),
    transition: Transition::Hidden,
    typical_delay: Duration::from_secs(2),
};

/// Dell iDRAC 9.
pub const IDRAC9: Profile = Profile {
    name: "idrac9",
    models: "Dell iDRAC 9 (PowerEdge 14G-16G)",
    manufacturer: "Dell Inc.",
    model: "PowerEdge R640",
    firmware: "7.00.00.00",
    system_id: "System.Embedded.{n}",
    first_system_id: None,
    chassis_id: "System.Embedded.{n}",
    first_chassis_id: None,
    manager_id: "iDRAC.Embedded.1",
    trailing_slash: false,
    reset_types: &[
        "On",
        "ForceOff",
        "ForceRestart",
        "GracefulRestart",
        "GracefulShutdown",
        "PushPowerButton",
        "Nmi",
        "PowerCycle",
    ],
    reset_types_in: ResetTypesIn::AllowableValues,
    reset_answer: ResetAnswer::NoContent,
    already: Some(AlreadyIn {
        on: Refusal {
            message_id: "IDRAC.2.1.PSU501",
            text: "Server is already powered ON.",
            ..DELL_CONFLICT
        },
        off: Refusal {
            message_id: "IDRAC.2.1.PSU502",
            text: "Server is already powered OFF.",
            ..DELL_CONFLICT
        },
    }),
    basic_auth: true,
    session_limit: Some((
        8,
        Refusal {
            status: 503,
            message_id: "IDRAC.2.1.RAC0218",
            text: "The maximum number of user sessions is reached.",
            ..DELL_CONFLICT
        },
    )),
    session_timeout: Duration::from_secs(1800),
    transition: Transition::Hidden,
    typical_delay: Duration::from_secs(3),
};

/// Lenovo XClarity Controller (XCC, XCC2).
pub const XCC: Profile = Profile {
    name: "xcc",
    models: "Lenovo XClarity Controller (ThinkSystem)",
    manufacturer: "Lenovo",
    model: "ThinkSystem SR650",
    firmware: "XCC 9.10",
    system_id: "{n}",
    first_system_id: None,
    chassis_id: "{n}",
    first_chassis_id: None,
    manager_id: "1",
    trailing_slash: false,
    reset_types: &[
        "On",
        "Nmi",
        "GracefulShutdown",
        "GracefulRestart",
        "ForceOn",
        "ForceOff",
        "ForceRestart",
    ],
    reset_types_in: ResetTypesIn::AllowableValues,
    reset_answer: ResetAnswer::NoContent,
    already: None,
    basic_auth: true,
    session_limit: Some((
        16,
        Refusal {
            status: 403,
            code: "Base.1.8.GeneralError",
            message: "A general error has occurred. See ExtendedInfo for more information.",
            message_id: "Base.1.8.SessionLimitExceeded",
            text: "The session establishment failed due to the number of simultaneous sessions \
                   exceeding the limit of the implementation.",
            args: &[],
        },
    )),
    session_timeout: Duration::from_secs(1800),
    transition: Transition::Hidden,
    typical_delay: Duration::from_secs(2),
};

/// Supermicro (X11, X12, H12 boards).
pub const SUPERMICRO: Profile = Profile {
    name: "supermicro",
    models: "Supermicro BMC (X11/X12/H12)",
    manufacturer: "Supermicro",
    model: "SYS-1029U-TRT",
    firmware: "01.73.12",
    system_id: "{n}",
    first_system_id: None,
    chassis_id: "{n}",
    first_chassis_id: None,
    manager_id: "1",
    trailing_slash: false,
    reset_types: &[
        "On",
        "ForceOff",
        "GracefulShutdown",
        "GracefulRestart",
        "ForceRestart",
        "Nmi",
        "ForceOn",
    ],
    reset_types_in: ResetTypesIn::AllowableValues,
    reset_answer: ResetAnswer::Success,
    already: None,
    basic_auth: true,
    session_limit: None,
    session_timeout: Duration::from_secs(1800),
    transition: Transition::Hidden,
    typical_delay: Duration::from_secs(2),
};

/// OpenBMC's bmcweb.
pub const OPENBMC: Profile = Profile {
    name: "openbmc",
    models: "OpenBMC (bmcweb)",
    manufacturer: "OpenBMC",
    model: "romulus",
    firmware: "2.16.0",
    system_id: "system{n}",
    first_system_id: Some("system"),
    chassis_id: "chassis{n}",
    first_chassis_id: Some("chassis"),
    manager_id: "bmc",
    trailing_slash: false,
    reset_types: &[
        "ForceOff",
        "PowerCycle",
        "Nmi",
        "On",
        "ForceOn",
        "ForceRestart",
        "GracefulRestart",
        "GracefulShutdown",
    ],
    reset_types_in: ResetTypesIn::ActionInfo,
    reset_answer: ResetAnswer::NoContent,
    already: None,
    basic_auth: true,
    session_limit: None,
    session_timeout: Duration::from_secs(1800),
    transition: Transition::Reported,
    typical_delay: Duration::from_secs(1),
};

/// Every profile, `generic` first.
pub const PROFILES: [Profile; 6] = [GENERIC, ILO5, IDRAC9, XCC, SUPERMICRO, OPENBMC];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_pattern_and_the_first_exception() {
        assert_eq!(IDRAC9.system_id(1), "System.Embedded.1");
        assert_eq!(OPENBMC.system_id(1), "system");
        assert_eq!(OPENBMC.system_id(2), "system2");
        assert_eq!(OPENBMC.chassis_id(1), "chassis");
        assert_eq!(GENERIC.system_id(3), "3");
    }

    #[test]
    fn every_profile_is_found_by_name_and_can_power_off() {
        for p in &PROFILES {
            assert_eq!(Profile::named(p.name), Some(p));
            assert!(p.reset_types.contains(&"ForceOff"), "{}", p.name);
        }
        assert_eq!(Profile::named("nope"), None);
    }
}
