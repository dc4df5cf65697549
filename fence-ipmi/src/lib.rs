#![doc = include_str!("../README.md")]
//!
//! ## Where to start
//!
//! [`IpmiConfig`] (built with [`IpmiConfig::lanplus`] and its builder methods, or from
//! fence_ipmilan's options by [`IpmiConfig::from_options`]), [`RetryPolicy`] (the
//! retransmission schedule and the bound per request), [`IpmiDevice`] (the
//! [`fence_core::FenceDevice`]), [`client::Session`] (an IPMI session for other commands),
//! [`AGENTS`] (`fence_ipmilan` and its aliases for the CLI), [`params`] (their parameter
//! rows). The packet formats and the cryptography are the `fence-ipmi-proto` crate.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod client;
pub mod config;
pub mod device;
mod handshake;
mod transport;

pub use client::{Session, Stats};
pub use config::{CipherChoice, Interface, IpmiConfig, RetryPolicy};
pub use device::IpmiDevice;
pub use fence_ipmi_proto::crypto::{CipherSuite, V15AuthType};
pub use fence_ipmi_proto::message::Privilege;

use fence_core::FenceDevice;
use fence_core::agent::{AgentFamily, FailureLine, FailureWording, Persona, Plugs};
use fence_core::params::{Options, ParamSpec, ParamType, common};

/// The agents this backend serves, for a fence-agents front end (fence-cli): fence_ipmilan
/// and its aliases. fence_ilo3 (lanplus, power_wait 4), fence_ilo4, fence_ilo5 and
/// fence_ipmilanplus (lanplus) differ from it only in defaults.
pub static AGENTS: AgentFamily = AgentFamily {
    personas: &[
        Persona {
            name: "fence_ipmilan",
            shortdesc: "Fence agent for IPMI",
            defaults: &[],
        },
        Persona {
            name: "fence_ilo3",
            shortdesc: "Fence agent for HP iLO3",
            defaults: &[("power_wait", "4"), ("lanplus", "1")],
        },
        Persona {
            name: "fence_ilo4",
            shortdesc: "Fence agent for HP iLO4",
            defaults: &[("lanplus", "1")],
        },
        Persona {
            name: "fence_ilo5",
            shortdesc: "Fence agent for HP iLO5",
            defaults: &[("lanplus", "1")],
        },
        Persona {
            name: "fence_ipmilanplus",
            shortdesc: "Fence agent for IPMIv2 lanplus",
            defaults: &[("lanplus", "1")],
        },
        Persona {
            name: "fence_imm",
            shortdesc: "Fence agent for IBM Integrated Management Module",
            defaults: &[],
        },
        Persona {
            name: "fence_idrac",
            shortdesc: "Fence agent for Dell iDRAC",
            defaults: &[],
        },
    ],
    longdesc: "{invoked} is a Power Fencing agent which can be used with machines \
controlled by IPMI. This implementation (fence-rs) speaks IPMI over LAN (v2.0 RMCP+ with \
lanplus, v1.5 otherwise) itself; ipmitool is not needed. WARNING! This fence agent might \
report success before the node is powered off when method cycle is used. You should use \
-m/method onoff if your fence device works correctly with that option.",
    vendor_url: "",
    plugs: Plugs::PortAsIp,
    needs_password: false,
    accepts_diag: true,
    // fence_ipmilan reports a failed power cycle or diag as a timeout.
    failure: FailureWording {
        plug_not_found: None,
        login_or_unreachable: None,
        any: None,
        cycle: Some(FailureLine::TimedOut),
    },
    params,
    build: build_device,
};

/// [`AgentFamily::build`]: the configuration from the options, then the device (no I/O).
fn build_device(options: &Options) -> fence_core::Result<Box<dyn FenceDevice>> {
    let config = IpmiConfig::from_options(options)?;
    Ok(Box::new(IpmiDevice::new(config)?))
}

/// `ip`: not required, because `port_as_ip` may give the address as the plug.
pub const IP: ParamSpec = common::IP.required(false);
/// `ipport`: UDP 623.
pub const IPPORT: ParamSpec = common::IPPORT.default_value("623");
/// `username` (`login`): not required (the anonymous user exists).
pub const USERNAME: ParamSpec = common::USERNAME.required(false);
/// `plug` (`port`): the BMC address together with `port_as_ip`.
pub const PLUG: ParamSpec = common::PLUG
    .required(false)
    .hint("ip")
    .desc("IP address or hostname of fencing device (together with --port-as-ip)");
/// `lanplus`: IPMI v2.0 RMCP+ instead of v1.5.
pub const LANPLUS: ParamSpec = ParamSpec::new("lanplus", ParamType::Boolean)
    .short('P')
    .default_value("0")
    .desc("Use Lanplus to improve security of connection");
/// `auth`: the IPMI v1.5 authentication type.
pub const AUTH: ParamSpec = ParamSpec::new("auth", ParamType::Select(&["md5", "password", "none"]))
    .short('A')
    .hint("auth")
    .desc("IPMI Lan Auth type.");
/// `cipher`: the RMCP+ cipher suite.
pub const CIPHER: ParamSpec = ParamSpec::new("cipher", ParamType::String)
    .short('C')
    .hint("cipher")
    .desc("Ciphersuite to use (same as ipmitool -C parameter)");
/// `hexadecimal_kg`: the BMC key.
pub const HEXADECIMAL_KG: ParamSpec = ParamSpec::new("hexadecimal_kg", ParamType::String)
    .long("hexadecimal-kg")
    .hint("key")
    .secret()
    .desc("Hexadecimal-encoded Kg key for IPMIv2 authentication");
/// `privlvl`: the session privilege level.
pub const PRIVLVL: ParamSpec = ParamSpec::new(
    "privlvl",
    ParamType::Select(&["callback", "user", "operator", "administrator"]),
)
.short('L')
.hint("level")
.default_value("administrator")
.desc("Privilege level on IPMI device");
/// `target`: IPMI bridging (refused: not implemented).
pub const TARGET: ParamSpec = ParamSpec::new("target", ParamType::String)
    .hint("targetaddress")
    .desc("Bridge IPMI requests to the remote target address");
/// `ipmitool_path`: accepted for compatibility.
pub const IPMITOOL_PATH: ParamSpec = ParamSpec::new("ipmitool_path", ParamType::String)
    .long("ipmitool-path")
    .hint("path")
    .default_value("/usr/bin/ipmitool")
    .order(200)
    .desc("Path to ipmitool binary")
    .unused("IPMI is spoken natively; no ipmitool is run");
/// `ipmitool_timeout`: the longest wait between two transmissions of a request.
pub const IPMITOOL_TIMEOUT: ParamSpec = ParamSpec::new("ipmitool_timeout", ParamType::String)
    .long("ipmitool-timeout")
    .hint("timeout")
    .default_value("2")
    .order(201)
    .desc("Timeout (sec) for IPMI operation");
/// Why `use_sudo` and `sudo_path` are accepted and unused here.
const SUDO_UNUSED: &str = "no third-party program is run, so there is nothing to run with sudo";
/// `power_wait`: fence_ipmilan's default is 2 s (fence_ilo3: 4 s, set by the CLI).
pub const POWER_WAIT: ParamSpec = common::POWER_WAIT.default_value("2");

/// fence_ipmilan's rows besides [`fence_core::params::common::every_agent`] (whose
/// `power_wait` row this list replaces with fence_ipmilan's default of 2 s), in the
/// order of fence_ipmilan's metadata.
pub fn params() -> Vec<ParamSpec> {
    vec![
        AUTH,
        CIPHER,
        HEXADECIMAL_KG,
        IP,
        IPPORT,
        LANPLUS,
        common::METHOD,
        common::PASSWORD,
        common::PASSWORD_SCRIPT,
        PLUG,
        PRIVLVL,
        TARGET,
        USERNAME,
        IPMITOOL_PATH,
        common::PORT_AS_IP,
        POWER_WAIT,
        IPMITOOL_TIMEOUT,
        common::USE_SUDO.unused(SUDO_UNUSED),
        common::SUDO_PATH.unused(SUDO_UNUSED),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use fence_core::params::ParamTable;

    #[test]
    fn rows_match_fence_ipmilan_metadata() {
        let t = ParamTable::new()
            .with(&common::every_agent())
            .with(&params());
        let get = |n: &str| t.get(n).unwrap_or_else(|| panic!("{n} missing"));
        assert_eq!(get("lanplus").mixed(), "-P, --lanplus");
        assert_eq!(get("auth").mixed(), "-A, --auth=[auth]");
        assert_eq!(get("cipher").mixed(), "-C, --cipher=[cipher]");
        assert_eq!(get("hexadecimal_kg").mixed(), "--hexadecimal-kg=[key]");
        assert_eq!(get("privlvl").mixed(), "-L, --privlvl=[level]");
        assert_eq!(get("target").mixed(), "--target=[targetaddress]");
        assert_eq!(get("plug").mixed(), "-n, --plug=[ip]");
        assert_eq!(
            get("ipmitool_timeout").mixed(),
            "--ipmitool-timeout=[timeout]"
        );
        assert_eq!(get("use_sudo").mixed(), "--use-sudo");
        assert_eq!(get("sudo_path").mixed(), "--sudo-path=[path]");
        assert_eq!(get("ipport").default, Some("623"));
        assert_eq!(get("power_wait").default, Some("2"));
        assert!(!get("ip").required && !get("plug").required && !get("username").required);
        assert!(get("hexadecimal_kg").secret && get("password").secret);
        assert_eq!(t.resolve("sudo").map(|r| r.name), Some("use_sudo"));
        assert_eq!(t.resolve("ipaddr").map(|r| r.name), Some("ip"));
    }

    /// The metadata order of fence-agents: (order, name) with code-point comparison, names
    /// as printed (deprecated names included). Checked against the Python agent's XML.
    #[test]
    fn metadata_order_matches_the_python_agent() {
        let t = ParamTable::new()
            .with(&common::every_agent())
            .with(&params());
        let mut names: Vec<(u16, &str)> = Vec::new();
        for r in t.rows() {
            names.push((r.order, r.name));
            if let Some(old) = r.deprecated_name {
                names.push((r.order, old));
            }
        }
        names.sort();
        let order: Vec<&str> = names.into_iter().map(|(_, n)| n).collect();
        let expected = [
            "action",
            "auth",
            "cipher",
            "hexadecimal_kg",
            "ip",
            "ipaddr",
            "ipport",
            "lanplus",
            "login",
            "method",
            "passwd",
            "passwd_script",
            "password",
            "password_script",
            "plug",
            "port",
            "privlvl",
            "target",
            "username",
            "quiet",
            "verbose",
            "verbose_level",
            "debug",
            "debug_file",
            "version",
            "help",
            "plug_separator",
            "delay",
            "disable_timeout",
            "ipmitool_path",
            "login_timeout",
            "port_as_ip",
            "power_timeout",
            "power_wait",
            "shell_timeout",
            "stonith_status_sleep",
            "ipmitool_timeout",
            "retry_on",
            "sudo",
            "use_sudo",
            "sudo_path",
        ];
        assert_eq!(order, expected);
    }
}
