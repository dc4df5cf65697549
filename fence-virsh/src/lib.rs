#![doc = include_str!("../README.md")]
//!
//! ## Where to start
//!
//! [`VirshConfig`] (on an [`fence_ssh::SshTarget`], or from fence_virsh's options by
//! [`VirshConfig::from_options`]), [`VirshDevice`] (the [`fence_core::FenceDevice`]),
//! [`state`] (every libvirt domain state mapped), [`AGENTS`] (the `fence_virsh` persona of
//! the CLI), [`params`] (its parameter rows, [`LIBVIRT_URI`] among them).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod config;
pub mod device;
pub mod state;
mod virsh;

pub use config::VirshConfig;
pub use device::VirshDevice;

use fence_core::FenceDevice;
use fence_core::agent::{AgentFamily, FailureLine, FailureWording, Persona, Plugs};
use fence_core::params::common::MISSING_AS_OFF;
use fence_core::params::{Options, ParamSpec, ParamType, common};

/// The agent this backend serves, for a fence-agents front end (fence-cli).
pub static AGENTS: AgentFamily = AgentFamily {
    personas: &[Persona {
        name: "fence_virsh",
        shortdesc: "Fence agent for virsh",
        defaults: &[],
    }],
    longdesc: "{invoked} is an I/O Fencing agent which can be used with the virtual \
machines managed by libvirt. It logs via ssh to a dom0 and there run virsh command, which does \
all work. \n.P\nBy default, virsh needs root account to do properly work. So you must allow \
ssh login in your sshd_config.",
    vendor_url: "http://libvirt.org",
    plugs: Plugs::Named,
    needs_password: true,
    accepts_diag: false,
    // fence_virsh's wording (fence_virsh.py get_power_status: fail_usage for an unknown
    // domain; fencing.py: EC_LOGIN_DENIED when the SSH login fails).
    failure: FailureWording {
        plug_not_found: Some(FailureLine::Usage(
            "You have to enter existing name/UUID of virtual machine!",
        )),
        login_or_unreachable: Some(FailureLine::LoginDenied),
        any: None,
        cycle: None,
    },
    params,
    build: build_device,
};

/// [`AgentFamily::build`]: the configuration from the options, then the device (no I/O).
fn build_device(options: &Options) -> fence_core::Result<Box<dyn FenceDevice>> {
    let config = VirshConfig::from_options(options)?;
    Ok(Box::new(VirshDevice::new(config)?))
}

/// `libvirt_uri` (fence-rs): the connection URI virsh is given with `--connect`.
pub const LIBVIRT_URI: ParamSpec = ParamSpec::new("libvirt_uri", ParamType::String)
    .long("libvirt-uri")
    .hint("uri")
    .order(200)
    .desc("libvirt connection URI for virsh --connect (default: virsh's default connection)");

/// The rows of `fence_virsh` besides [`common::every_agent`]: connection, login and plug
/// rows with fence_virsh's defaults (`ipport` 22, its `ssh_options`), its own options, the
/// compatibility-only options (marked unused), and fence-rs' host key and URI options.
pub fn params() -> Vec<ParamSpec> {
    let mut rows = fence_ssh::params(
        "-t '/bin/bash -c \"PS1=\\\\[EXPECT\\\\]# /bin/bash --noprofile --norc\"'",
    );
    rows.extend([common::PLUG, common::SEPARATOR, MISSING_AS_OFF, LIBVIRT_URI]);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use fence_core::params::{ParamTable, Usage};

    fn table() -> ParamTable {
        ParamTable::new()
            .with(&common::every_agent())
            .with(&params())
    }

    #[test]
    fn rows_match_fence_virsh_metadata() {
        // Debian's fence-agents 4.12: /usr/sbin/fence_virsh -o metadata.
        let t = table();
        let row = |n: &str| t.get(n).unwrap_or_else(|| panic!("no row {n}")).clone();
        assert_eq!(row("ipport").default, Some("22"));
        assert_eq!(row("command_prompt").deprecated_name, Some("cmd_prompt"));
        assert_eq!(row("command_prompt").default, Some(r"['\\[EXPECT\\]#']"));
        assert_eq!(
            row("ssh_options").default,
            Some(r#"-t '/bin/bash -c "PS1=\\[EXPECT\\]# /bin/bash --noprofile --norc"'"#)
        );
        assert_eq!(row("missing_as_off").mixed(), "--missing-as-off");
        assert_eq!(row("use_sudo").mixed(), "--use-sudo");
        assert_eq!(row("sudo_path").default, Some("/usr/bin/sudo"));
        assert_eq!(row("libvirt_uri").mixed(), "--libvirt-uri=[uri]");
        assert!(row("plug").required);
        for unused in ["command_prompt", "ssh_options", "ssh_path", "ssh"] {
            assert!(matches!(row(unused).usage, Usage::Unused(_)), "{unused}");
        }
    }
}
