//! The typed configuration of a libvirt host reached over SSH.

use std::fmt;

use fence_core::Result;
use fence_core::params::Options;
use fence_ssh::SshTarget;

use crate::{LIBVIRT_URI, MISSING_AS_OFF};

/// How to reach and drive one libvirt host.
///
/// Build it from fence-agents options with [`VirshConfig::from_options`], or with
/// [`VirshConfig::new`] and the builder methods. `Debug` never shows the password.
#[derive(Clone)]
#[non_exhaustive]
pub struct VirshConfig {
    /// How to reach the host and log in (`ip`, `ipport`, `username`, `password`,
    /// `identity_file`, `inet4_only`, `inet6_only`, `login_timeout`, `shell_timeout`,
    /// `ssh_host_key_check`, `ssh_known_hosts_file`).
    pub ssh: SshTarget,
    /// Path of `sudo` on the host when virsh runs through sudo (`use_sudo`, `sudo_path`).
    pub sudo_path: Option<String>,
    /// An unknown domain reads as Off instead of failing (`missing_as_off`).
    pub missing_as_off: bool,
    /// The libvirt connection URI virsh is given with `--connect` (`libvirt_uri`); `None`:
    /// virsh's default (`LIBVIRT_DEFAULT_URI`, then the user's default), as fence_virsh.
    pub uri: Option<String>,
}

impl fmt::Debug for VirshConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirshConfig")
            .field("ssh", &self.ssh)
            .field("sudo_path", &self.sudo_path)
            .field("missing_as_off", &self.missing_as_off)
            .field("uri", &self.uri)
            .finish()
    }
}

impl VirshConfig {
    /// A configuration with fence_virsh's defaults for the host `ssh` reaches.
    pub fn new(ssh: SshTarget) -> Self {
        VirshConfig {
            ssh,
            sudo_path: None,
            missing_as_off: false,
            uri: None,
        }
    }

    /// Runs virsh through `sudo` at this path.
    pub fn sudo(mut self, sudo_path: impl Into<String>) -> Self {
        self.sudo_path = Some(sudo_path.into());
        self
    }

    /// Makes an unknown domain read as Off.
    pub fn missing_as_off(mut self, yes: bool) -> Self {
        self.missing_as_off = yes;
        self
    }

    /// Gives virsh this connection URI.
    pub fn uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = Some(uri.into());
        self
    }

    /// Builds the configuration from fence-agents options: the SSH options
    /// (those of `SshTarget::from_options`, see [`SshTarget`]), `use_sudo`, `sudo_path`,
    /// `missing_as_off` and `libvirt_uri`. Fails with [`fence_core::Error::InvalidInput`] naming the option.
    pub fn from_options(options: &Options) -> Result<VirshConfig> {
        let ssh = SshTarget::from_options(options)?;
        let sudo_path = fence_ssh::sudo_path(options);
        Ok(VirshConfig {
            ssh,
            sudo_path,
            missing_as_off: options.flag(MISSING_AS_OFF.name),
            uri: options.non_empty(LIBVIRT_URI.name).map(str::to_owned),
        })
    }

    /// `host:port` for messages and logs.
    pub fn address(&self) -> String {
        self.ssh.address()
    }
}
