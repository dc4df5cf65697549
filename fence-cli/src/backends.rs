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
    /// The agent names the backend serves, its main name first (`fence_ipmilan`, then the
    /// aliases).
    pub agent_names: &'static [&'static str],
    /// The metadata `shortdesc` of agent names, where the backend gives one.
    pub shortdescs: &'static [(&'static str, &'static str)],
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
    /// Every family, in the order `--list-agents` prints their agents.
    pub const ALL: [Family; 3] = [Family::Ipmi, Family::Redfish, Family::Vbox];

    /// The backend crate's entry points.
    pub fn backend(self) -> Backend {
        match self {
            Family::Ipmi => Backend {
                agent_names: fence_ipmi::AGENT_NAMES,
                shortdescs: fence_ipmi::AGENT_SHORTDESCS,
                params: fence_ipmi::params,
                build: build_ipmi,
            },
            Family::Redfish => Backend {
                agent_names: fence_redfish::AGENT_NAMES,
                shortdescs: &[("fence_redfish", fence_redfish::SHORTDESC)],
                params: fence_redfish::params,
                build: build_redfish,
            },
            Family::Vbox => Backend {
                agent_names: fence_vbox::AGENT_NAMES,
                shortdescs: &[("fence_vbox", fence_vbox::SHORTDESC)],
                params: fence_vbox::params,
                build: build_vbox,
            },
        }
    }
}

fn build_ipmi(options: &Options) -> Result<Box<dyn FenceDevice>> {
    let config = fence_ipmi::IpmiConfig::from_options(options)?;
    Ok(Box::new(fence_ipmi::IpmiDevice::new(config)?))
}

fn build_redfish(options: &Options) -> Result<Box<dyn FenceDevice>> {
    let config = fence_redfish::RedfishConfig::from_options(options)?;
    Ok(Box::new(fence_redfish::RedfishDevice::new(config)?))
}

fn build_vbox(options: &Options) -> Result<Box<dyn FenceDevice>> {
    let config = fence_vbox::VboxConfig::from_options(options)?;
    Ok(Box::new(fence_vbox::VboxDevice::new(config)?))
}
