#![doc = include_str!("../README.md")]
//!
//! ## Where to start
//!
//! [`VboxConfig`] (built with its builder methods or from fence_vbox's options by
//! [`VboxConfig::from_options`]), [`VboxDevice`] (the [`fence_core::FenceDevice`]),
//! [`AGENTS`] (the `fence_vbox` persona of the CLI), [`params`] (its parameter rows),
//! [`HostKeyCheck`] and [`quote`] (from fence-ssh).
#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod config;
pub mod device;
mod state;
mod vboxmanage;

pub use config::{HostOs, VboxConfig};
pub use device::VboxDevice;
/// The SSH layer's quoting (fence-ssh), where VM names become data for the host's shell.
pub use fence_ssh::quote;
pub use fence_ssh::{HostKeyCheck, IpFamily, SshTarget};

use fence_core::FenceDevice;
use fence_core::agent::{AgentFamily, FailureLine, FailureWording, Persona, Plugs};
use fence_core::params::{Options, ParamSpec, ParamType, common};

/// The agent this backend serves, for a fence-agents front end (fence-cli).
pub static AGENTS: AgentFamily = AgentFamily {
    personas: &[Persona {
        name: "fence_vbox",
        shortdesc: "Fence agent for VirtualBox",
        defaults: &[],
    }],
    longdesc: "{invoked} is a Power Fencing agent which can be used with the virtual \
machines managed by VirtualBox. It logs via ssh to a dom0 where it runs VBoxManage to do all \
of the work. \n.P\nBy default, vbox needs to log in as a user that is a member of the \
vboxusers group. Also, you must allow ssh login in your sshd_config.",
    vendor_url: "https://www.virtualbox.org/",
    plugs: Plugs::Named,
    needs_password: true,
    accepts_diag: false,
    // fence_vbox's wording (fence-agents' fencing.py: fail_usage for an unknown VM,
    // EC_LOGIN_DENIED when the SSH login fails).
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
    let config = VboxConfig::from_options(options)?;
    Ok(Box::new(VboxDevice::new(config)?))
}

/// The `host_os` choices, in metadata order.
pub const HOST_OS_CHOICES: &[&str] = &["linux", "macos", "windows"];

/// `command_prompt` (`cmd_prompt`): accepted for compatibility, not used.
pub use fence_core::params::common::COMMAND_PROMPT;
/// `missing_as_off`: an unknown VM reads as off.
pub use fence_core::params::common::MISSING_AS_OFF;
/// `host_os`: the operating system of the VirtualBox host.
pub const HOST_OS: ParamSpec = ParamSpec::new("host_os", ParamType::Select(HOST_OS_CHOICES))
    .long("host-os")
    .hint("os")
    .default_value("linux")
    .order(200)
    .desc("Operating system of the host");
/// `vboxmanage_path`: where VBoxManage is on the host.
pub const VBOXMANAGE_PATH: ParamSpec = ParamSpec::new("vboxmanage_path", ParamType::String)
    .long("vboxmanage-path")
    .hint("path")
    .default_value("VBoxManage")
    .order(200)
    .desc("Path to VBoxManage on the host");
/// The rows of `fence_vbox` besides [`common::every_agent`]: connection, login and plug
/// rows with fence_vbox's defaults (`ipport` 22), its own options, the compatibility-only
/// options (marked unused), and fence-rs' host key options.
pub fn params() -> Vec<ParamSpec> {
    let mut rows = fence_ssh::params(
        "-t '/bin/bash -c \"PS1=\\\\[EXPECT\\\\]# HISTFILE=/dev/null /bin/bash --noprofile --norc\"'",
    );
    rows.extend([
        common::PLUG,
        common::SEPARATOR,
        HOST_OS,
        MISSING_AS_OFF,
        VBOXMANAGE_PATH,
    ]);
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
    fn rows_match_fence_vbox_metadata() {
        let t = table();
        let row = |n: &str| t.get(n).unwrap_or_else(|| panic!("no row {n}")).clone();
        assert_eq!(row("ipport").default, Some("22"));
        assert_eq!(row("ipport").mixed(), "-u, --ipport=[port]");
        assert_eq!(row("command_prompt").deprecated_name, Some("cmd_prompt"));
        assert_eq!(
            row("command_prompt").mixed(),
            "-c, --command-prompt=[prompt]"
        );
        // metadata prints it entity-encoded as [&apos;\\[EXPECT\\]#&apos;]
        assert_eq!(row("command_prompt").default, Some(r"['\\[EXPECT\\]#']"));
        assert_eq!(
            row("ssh_options").default,
            Some(
                r#"-t '/bin/bash -c "PS1=\\[EXPECT\\]# HISTFILE=/dev/null /bin/bash --noprofile --norc"'"#
            )
        );
        assert_eq!(row("ssh").mixed(), "-x, --ssh");
        assert_eq!(row("ssh").deprecated_name, Some("secure"));
        assert_eq!(row("ssh").default, Some("1"));
        assert_eq!(
            row("identity_file").mixed(),
            "-k, --identity-file=[filename]"
        );
        assert_eq!(row("inet4_only").mixed(), "-4, --inet4-only");
        assert_eq!(row("inet6_only").mixed(), "-6, --inet6-only");
        assert_eq!(row("host_os").mixed(), "--host-os=[os]");
        assert_eq!(row("host_os").ty.content_type(), "select");
        assert_eq!(row("host_os").order, 200);
        assert_eq!(row("vboxmanage_path").mixed(), "--vboxmanage-path=[path]");
        assert_eq!(row("vboxmanage_path").default, Some("VBoxManage"));
        assert_eq!(row("missing_as_off").mixed(), "--missing-as-off");
        assert_eq!(row("use_sudo").deprecated_name, Some("sudo"));
        assert_eq!(row("use_sudo").mixed(), "--use-sudo");
        assert_eq!(row("use_sudo").order, 205);
        assert_eq!(row("sudo_path").default, Some("/usr/bin/sudo"));
        assert_eq!(row("ssh_path").default, Some("/usr/bin/ssh"));
        assert_eq!(row("ssh_path").order, 300);
        assert_eq!(row("separator").mixed(), "-C, --separator=[char]");
        assert!(!row("password").required);
        assert!(row("plug").required);
        for unused in ["command_prompt", "ssh_options", "ssh_path", "ssh"] {
            assert!(
                matches!(row(unused).usage, Usage::Unused(_)),
                "{unused} is not used"
            );
        }
        for used in [
            "identity_file",
            "host_os",
            "sudo_path",
            "ssh_host_key_check",
        ] {
            assert_eq!(row(used).usage, Usage::Used, "{used}");
        }
    }

    #[test]
    fn stdin_aliases_resolve() {
        let t = table();
        for (alias, name) in [
            ("secure", "ssh"),
            ("sudo", "use_sudo"),
            ("cmd_prompt", "command_prompt"),
            ("port", "plug"),
            ("login", "username"),
            ("ssh-known-hosts-file", "ssh_known_hosts_file"),
        ] {
            assert_eq!(t.resolve(alias).map(|r| r.name), Some(name), "{alias}");
        }
    }
}
