//! The registry of backends: for each family of agents, its parameter rows and how to build
//! its device from parsed options.
//!
//! This is the only file that names the backend crates. The CLI never looks inside a
//! backend: it asks for `params()` and builds a `Box<dyn FenceDevice>` through the
//! constructors of the contract (`XConfig::from_options`, `XDevice::new`, no I/O).

use fence_core::params::{Options, ParamSpec};
use fence_core::{FenceDevice, Result};

/// The backend behind an agent name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// IPMI over LAN (fence_ipmilan and its aliases).
    Ipmi,
    /// Redfish over HTTPS (fence_redfish).
    Redfish,
    /// VirtualBox over SSH (fence_vbox).
    Vbox,
}

/// How the CLI talks to one backend crate.
#[derive(Clone, Copy)]
pub struct Backend {
    /// The backend's own parameter rows (besides `common::every_agent()`).
    pub params: fn() -> Vec<ParamSpec>,
    /// Builds the device; must not do any I/O.
    pub build: fn(&Options) -> Result<Box<dyn FenceDevice>>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Backend")
    }
}

impl Family {
    /// The backend crate's entry points.
    pub fn backend(self) -> Backend {
        match self {
            Family::Ipmi => Backend {
                params: pending::ipmi_params,
                build: pending::not_yet,
            },
            Family::Redfish => Backend {
                params: fence_redfish::params,
                build: build_redfish,
            },
            Family::Vbox => Backend {
                params: fence_vbox::params,
                build: build_vbox,
            },
        }
    }
}

fn build_redfish(options: &Options) -> Result<Box<dyn FenceDevice>> {
    let config = fence_redfish::RedfishConfig::from_options(options)?;
    Ok(Box::new(fence_redfish::RedfishDevice::new(config)?))
}

fn build_vbox(options: &Options) -> Result<Box<dyn FenceDevice>> {
    let config = fence_vbox::VboxConfig::from_options(options)?;
    Ok(Box::new(fence_vbox::VboxDevice::new(config)?))
}

/// Stand-ins used while the backend crates are being written (same rows as their
/// contract requires); replaced by the crates' own `params()` and constructors.
mod pending {
    use fence_core::params::{ParamSpec, ParamType, common};
    use fence_core::{Error, FenceDevice, Result};

    use super::Options;

    pub fn not_yet(_: &Options) -> Result<Box<dyn FenceDevice>> {
        Err(Error::unsupported(
            "this backend is not built into fence-agent yet",
        ))
    }

    const PATH_UNUSED: &str = "fence-rs runs no external program";

    pub fn ipmi_params() -> Vec<ParamSpec> {
        vec![
            common::IP,
            common::IPPORT.default_value("623"),
            common::USERNAME.required(false),
            common::PASSWORD,
            common::PASSWORD_SCRIPT,
            common::PLUG,
            common::METHOD,
            ParamSpec::new("lanplus", ParamType::Boolean)
                .short('P')
                .default_value("0")
                .desc("Use Lanplus to improve security of connection"),
            ParamSpec::new("auth", ParamType::Select(&["md5", "password", "none"]))
                .short('A')
                .hint("auth")
                .desc("IPMI Lan Auth type."),
            ParamSpec::new("cipher", ParamType::String)
                .short('C')
                .hint("cipher")
                .desc("Ciphersuite to use (same as ipmitool -C parameter)"),
            ParamSpec::new(
                "privlvl",
                ParamType::Select(&["callback", "user", "operator", "administrator"]),
            )
            .short('L')
            .hint("level")
            .default_value("administrator")
            .desc("Privilege level on IPMI device"),
            ParamSpec::new("ipmitool_path", ParamType::String)
                .long("ipmitool-path")
                .hint("path")
                .default_value("/usr/bin/ipmitool")
                .order(200)
                .desc("Path to ipmitool binary")
                .unused(PATH_UNUSED),
            ParamSpec::new("ipmitool_timeout", ParamType::String)
                .long("ipmitool-timeout")
                .hint("timeout")
                .default_value("2")
                .order(201)
                .desc("Timeout (sec) for IPMI operation"),
            ParamSpec::new("target", ParamType::String)
                .hint("targetaddress")
                .desc("Bridge IPMI requests to the remote target address"),
            ParamSpec::new("hexadecimal_kg", ParamType::String)
                .long("hexadecimal-kg")
                .hint("key")
                .secret()
                .desc("Hexadecimal-encoded Kg key for IPMIv2 authentication"),
            ParamSpec::new("use_sudo", ParamType::Boolean)
                .deprecated("sudo")
                .long("use-sudo")
                .order(205)
                .desc("Use sudo (without password) when calling 3rd party software")
                .unused(PATH_UNUSED),
            ParamSpec::new("sudo_path", ParamType::String)
                .long("sudo-path")
                .hint("path")
                .default_value("/usr/bin/sudo")
                .order(300)
                .desc("Path to sudo binary")
                .unused(PATH_UNUSED),
        ]
    }
}
