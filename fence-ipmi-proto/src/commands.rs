//! The commands fencing needs: network functions, command numbers, completion codes,
//! chassis control, and the data of Get Channel Authentication Capabilities and Get
//! Chassis Status.

use crate::message::Privilege;
use fence_core::Result;

use crate::reader::{Reader, malformed};

/// Network function codes (requests; a response uses the code + 1).
pub mod netfn {
    /// Chassis commands.
    pub const CHASSIS: u8 = 0x00;
    /// Application commands (sessions, channels).
    pub const APP: u8 = 0x06;
}

/// Command codes used by fencing.
pub mod cmd {
    /// Chassis: Get Chassis Status.
    pub const GET_CHASSIS_STATUS: u8 = 0x01;
    /// Chassis: Chassis Control.
    pub const CHASSIS_CONTROL: u8 = 0x02;
    /// App: Get Channel Authentication Capabilities.
    pub const GET_CHANNEL_AUTH_CAPABILITIES: u8 = 0x38;
    /// App: Get Session Challenge (v1.5).
    pub const GET_SESSION_CHALLENGE: u8 = 0x39;
    /// App: Activate Session (v1.5).
    pub const ACTIVATE_SESSION: u8 = 0x3A;
    /// App: Set Session Privilege Level.
    pub const SET_SESSION_PRIVILEGE_LEVEL: u8 = 0x3B;
    /// App: Close Session.
    pub const CLOSE_SESSION: u8 = 0x3C;
}

/// The name of a command this module knows, for messages and logs.
pub fn command_name(net_fn: u8, command: u8) -> Option<&'static str> {
    match (net_fn & !1, command) {
        (netfn::CHASSIS, cmd::GET_CHASSIS_STATUS) => Some("Get Chassis Status"),
        (netfn::CHASSIS, cmd::CHASSIS_CONTROL) => Some("Chassis Control"),
        (netfn::APP, cmd::GET_CHANNEL_AUTH_CAPABILITIES) => {
            Some("Get Channel Authentication Capabilities")
        }
        (netfn::APP, cmd::GET_SESSION_CHALLENGE) => Some("Get Session Challenge"),
        (netfn::APP, cmd::ACTIVATE_SESSION) => Some("Activate Session"),
        (netfn::APP, cmd::SET_SESSION_PRIVILEGE_LEVEL) => Some("Set Session Privilege Level"),
        (netfn::APP, cmd::CLOSE_SESSION) => Some("Close Session"),
        _ => None,
    }
}

/// Completion codes with a meaning for fencing.
pub mod cc {
    /// Command completed normally.
    pub const OK: u8 = 0x00;
    /// Invalid command (not supported by this BMC).
    pub const INVALID_COMMAND: u8 = 0xC1;
    /// Invalid data field in request.
    pub const INVALID_DATA_FIELD: u8 = 0xCC;
    /// Insufficient privilege level.
    pub const INSUFFICIENT_PRIVILEGE: u8 = 0xD4;
    /// Command not supported in present state.
    pub const NOT_SUPPORTED_IN_PRESENT_STATE: u8 = 0xD5;

    /// A short description of a completion code, for error messages.
    pub fn describe(code: u8) -> &'static str {
        match code {
            OK => "ok",
            0x80..=0xBE => "command-specific error",
            0xC0 => "node busy",
            INVALID_COMMAND => "invalid command",
            0xC3 => "timeout while processing command",
            0xC7 => "request data length invalid",
            0xC9 => "parameter out of range",
            INVALID_DATA_FIELD => "invalid data field in request",
            0xCE => "command response could not be provided",
            INSUFFICIENT_PRIVILEGE => "insufficient privilege level",
            NOT_SUPPORTED_IN_PRESENT_STATE => "command not supported in present state",
            0xFF => "unspecified error",
            _ => "error",
        }
    }
}

/// Chassis Control command values.
pub mod chassis_control {
    /// Power down (hard off).
    pub const POWER_DOWN: u8 = 0x00;
    /// Power up.
    pub const POWER_UP: u8 = 0x01;
    /// Power cycle.
    pub const POWER_CYCLE: u8 = 0x02;
    /// Hard reset.
    pub const HARD_RESET: u8 = 0x03;
    /// Pulse a diagnostic interrupt (NMI).
    pub const DIAGNOSTIC_INTERRUPT: u8 = 0x04;
    /// Soft shutdown through ACPI.
    pub const SOFT_SHUTDOWN: u8 = 0x05;
}

/// Get Channel Authentication Capabilities: the answer's fields that matter for login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelAuthCapabilities {
    /// The channel number.
    pub channel: u8,
    /// Bit mask of the supported v1.5 authentication types (bit n = type n).
    pub auth_types: u8,
    /// The channel supports IPMI v2.0 (RMCP+) sessions.
    pub ipmi20: bool,
}

impl ChannelAuthCapabilities {
    /// Request data for the current channel and `privilege`; `ipmi20` asks for the v2.0
    /// extended data.
    pub fn request(privilege: Privilege, ipmi20: bool) -> Vec<u8> {
        vec![0x0E | if ipmi20 { 0x80 } else { 0 }, privilege.id()]
    }

    /// The response data (after the completion code).
    pub fn encode(&self) -> Vec<u8> {
        let v20 = if self.ipmi20 { 0x80 } else { 0 };
        vec![
            self.channel,
            self.auth_types | v20,
            0x04,
            if self.ipmi20 { 0x02 } else { 0 },
            0,
            0,
            0,
            0,
        ]
    }

    /// Parses the response data.
    pub fn decode(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, "Get Channel Authentication Capabilities");
        let channel = r.u8()?;
        let types = r.u8()?;
        r.u8()?;
        let ext = if r.remaining() > 0 { r.u8()? } else { 0 };
        Ok(ChannelAuthCapabilities {
            channel,
            auth_types: types & 0x3F,
            ipmi20: types & 0x80 != 0 && ext & 0x02 != 0,
        })
    }
}

/// Get Chassis Status response: whether the system power is on (bit 0 of byte 0).
pub fn chassis_power_is_on(data: &[u8]) -> Result<bool> {
    let b = data
        .first()
        .ok_or_else(|| malformed("Get Chassis Status answered without data"))?;
    Ok(b & 1 != 0)
}
