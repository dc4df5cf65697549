//! The typed configuration of a VirtualBox host reached over SSH.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::{HOST_OS, MISSING_AS_OFF, VBOXMANAGE_PATH};
use fence_core::params::Options;
use fence_core::{Error, InputProblem, Result, Secret};
use fence_ssh::Shell;
pub use fence_ssh::{HostKeyCheck, IpFamily, SshTarget, ZERO_TIMEOUT_CAP};

/// The operating system of the VirtualBox host; it decides the default `VBoxManage` path
/// and how arguments are quoted for the host's shell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HostOs {
    /// Linux (and other POSIX hosts): arguments are quoted for a POSIX shell.
    #[default]
    Linux,
    /// macOS: POSIX quoting, `VBoxManage` inside `/Applications/VirtualBox.app`.
    Macos,
    /// Windows with OpenSSH's default shell, `cmd.exe`: arguments are quoted for `cmd.exe`
    /// and `CommandLineToArgvW`.
    Windows,
}

impl HostOs {
    /// Parses `linux`, `macos` or `windows` (case-insensitively).
    pub fn parse(value: &str) -> Result<HostOs> {
        match value.to_ascii_lowercase().as_str() {
            "linux" => Ok(HostOs::Linux),
            "macos" => Ok(HostOs::Macos),
            "windows" => Ok(HostOs::Windows),
            _ => Err(Error::input(
                HOST_OS.name,
                InputProblem::NotAChoice {
                    choices: ["linux", "macos", "windows"].map(String::from).to_vec(),
                    given: Some(value.to_owned()),
                },
            )),
        }
    }

    /// The shell of the host: `cmd.exe` on Windows, a POSIX shell elsewhere.
    pub fn shell(self) -> Shell {
        match self {
            HostOs::Linux | HostOs::Macos => Shell::Posix,
            HostOs::Windows => Shell::Cmd,
        }
    }

    /// The path of `VBoxManage` that `fence_vbox` uses on this OS when `vboxmanage_path` is
    /// not given. (fence_vbox writes the Windows path with an opening `"` only; here it is a
    /// plain path, quoted when the command is built.)
    pub fn default_vboxmanage_path(self) -> &'static str {
        match self {
            HostOs::Linux => "VBoxManage",
            HostOs::Macos => "/Applications/VirtualBox.app/Contents/MacOS/VBoxManage",
            HostOs::Windows => "/Program Files/Oracle/VirtualBox/VBoxManage.exe",
        }
    }
}

/// How to reach and drive one VirtualBox host.
///
/// Build it from fence-agents options with [`VboxConfig::from_options`], or with
/// [`VboxConfig::new`] and the builder methods. `Debug` never shows the password.
#[derive(Clone)]
#[non_exhaustive]
pub struct VboxConfig {
    /// How to reach the host and log in (`ip`, `ipport`, `username`, `password`,
    /// `identity_file`, `inet4_only`, `inet6_only`, `login_timeout`, `shell_timeout`,
    /// `ssh_host_key_check`, `ssh_known_hosts_file`).
    pub ssh: SshTarget,
    /// The host's operating system (`host_os`).
    pub host_os: HostOs,
    /// Path of `VBoxManage` on the host (`vboxmanage_path`, or the `host_os` default).
    pub vboxmanage_path: String,
    /// Path of `sudo` on the host when VBoxManage runs through sudo (`use_sudo`,
    /// `sudo_path`).
    pub sudo_path: Option<String>,
    /// An unknown VM reads as Off instead of failing (`missing_as_off`).
    pub missing_as_off: bool,
}

impl fmt::Debug for VboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VboxConfig")
            .field("ssh", &self.ssh)
            .field("host_os", &self.host_os)
            .field("vboxmanage_path", &self.vboxmanage_path)
            .field("sudo_path", &self.sudo_path)
            .field("missing_as_off", &self.missing_as_off)
            .finish()
    }
}

impl VboxConfig {
    /// A configuration with fence_vbox's defaults for `host`, logging in as `username`.
    /// Add a password or key with [`VboxConfig::password`] / [`VboxConfig::identity_file`].
    pub fn new(host: impl Into<String>, username: impl Into<String>) -> Self {
        VboxConfig {
            ssh: SshTarget::new(host, username),
            host_os: HostOs::Linux,
            vboxmanage_path: HostOs::Linux.default_vboxmanage_path().to_owned(),
            sudo_path: None,
            missing_as_off: false,
        }
    }

    /// Sets the SSH port.
    pub fn port(mut self, port: u16) -> Self {
        self.ssh = self.ssh.port(port);
        self
    }

    /// Sets the password (or the passphrase of the identity file).
    pub fn password(mut self, password: impl Into<Secret>) -> Self {
        self.ssh = self.ssh.password(password);
        self
    }

    /// Logs in with this private key (its passphrase is the password, if any).
    pub fn identity_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssh = self.ssh.identity_file(path);
        self
    }

    /// Sets the login and command timeouts.
    pub fn timeouts(mut self, login: Duration, shell: Duration) -> Self {
        self.ssh = self.ssh.timeouts(login, shell);
        self
    }

    /// Sets the host OS, and the `VBoxManage` path to its default.
    pub fn host_os(mut self, os: HostOs) -> Self {
        self.host_os = os;
        self.vboxmanage_path = os.default_vboxmanage_path().to_owned();
        self
    }

    /// Sets the `VBoxManage` path.
    pub fn vboxmanage_path(mut self, path: impl Into<String>) -> Self {
        self.vboxmanage_path = path.into();
        self
    }

    /// Runs `VBoxManage` through `sudo` at this path.
    pub fn sudo(mut self, sudo_path: impl Into<String>) -> Self {
        self.sudo_path = Some(sudo_path.into());
        self
    }

    /// Makes an unknown VM read as Off.
    pub fn missing_as_off(mut self, yes: bool) -> Self {
        self.missing_as_off = yes;
        self
    }

    /// Sets the host key policy.
    pub fn host_key_check(mut self, check: HostKeyCheck) -> Self {
        self.ssh = self.ssh.host_key_check(check);
        self
    }

    /// Uses this known_hosts file instead of `~/.ssh/known_hosts`.
    pub fn known_hosts_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssh = self.ssh.known_hosts_file(path);
        self
    }

    /// Builds the configuration from fence-agents options (`ip`, `ipport`, `username`,
    /// `password`, `identity_file`, `inet4_only`, `inet6_only`, `login_timeout`,
    /// `shell_timeout`, `host_os`, `vboxmanage_path`, `use_sudo`, `sudo_path`,
    /// `missing_as_off`, `ssh_host_key_check`, `ssh_known_hosts_file`). Fails with
    /// [`Error::InvalidInput`] naming the option and what is wrong with it.
    /// The only I/O is a check that `identity_file` exists.
    pub fn from_options(options: &Options) -> Result<VboxConfig> {
        let ssh = SshTarget::from_options(options)?;
        let host_os = HostOs::parse(options.get(HOST_OS.name).unwrap_or("linux"))?;
        let vboxmanage_path = match options.non_empty(VBOXMANAGE_PATH.name) {
            Some(p) if options.is_set(VBOXMANAGE_PATH.name) => p.to_owned(),
            _ => host_os.default_vboxmanage_path().to_owned(),
        };
        let sudo_path = fence_ssh::sudo_path(options);
        Ok(VboxConfig {
            ssh,
            host_os,
            vboxmanage_path,
            sudo_path,
            missing_as_off: options.flag(MISSING_AS_OFF.name),
        })
    }

    /// `host:port` (`[v6]:port`) for messages and logs.
    pub fn address(&self) -> String {
        self.ssh.address()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fence_core::params::{ParamTable, common};

    fn options(pairs: &[(&str, &str)]) -> Options {
        ParamTable::new()
            .with(&common::every_agent())
            .with(&crate::params())
            .parse(pairs.iter().copied())
            .unwrap()
    }

    #[test]
    fn defaults_follow_fence_vbox() {
        let c = VboxConfig::from_options(&options(&[
            ("ip", "vbox.example"),
            ("username", "u"),
            ("password", "hunter2"),
        ]))
        .unwrap();
        assert_eq!(c.ssh.port, 22);
        assert_eq!(c.ssh.login_timeout, Duration::from_secs(5));
        assert_eq!(c.ssh.shell_timeout, Duration::from_secs(3));
        assert_eq!(c.vboxmanage_path, "VBoxManage");
        assert_eq!(c.sudo_path, None);
        assert_eq!(c.ssh.host_key_check, HostKeyCheck::AcceptNew);
        assert!(!c.missing_as_off);
        assert_eq!(c.address(), "vbox.example:22");
    }

    #[test]
    fn host_os_sets_the_default_path_unless_a_path_is_given() {
        let base = [("ip", "h"), ("username", "u"), ("password", "p")];
        let with = |extra: &[(&str, &str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            VboxConfig::from_options(&options(&all)).unwrap()
        };
        assert_eq!(
            with(&[("host_os", "macos")]).vboxmanage_path,
            "/Applications/VirtualBox.app/Contents/MacOS/VBoxManage"
        );
        assert_eq!(
            with(&[("host_os", "windows")]).vboxmanage_path,
            "/Program Files/Oracle/VirtualBox/VBoxManage.exe"
        );
        assert_eq!(
            with(&[
                ("host_os", "windows"),
                ("vboxmanage_path", "C:/vbox/VBoxManage.exe")
            ])
            .vboxmanage_path,
            "C:/vbox/VBoxManage.exe"
        );
        let sudo = with(&[("sudo", "1"), ("sudo_path", "/opt/bin/sudo")]);
        assert_eq!(sudo.sudo_path.as_deref(), Some("/opt/bin/sudo"));
        assert_eq!(
            with(&[("use_sudo", "0")]).sudo_path,
            None,
            "false means false"
        );
        let v6 = with(&[("ip", "[::1]"), ("ipport", "2222"), ("inet6_only", "1")]);
        assert_eq!(v6.ssh.host, "::1");
        assert_eq!(v6.address(), "[::1]:2222");
        assert_eq!(v6.ssh.ip_family, IpFamily::V6);
        let off = with(&[
            ("ssh_host_key_check", "OFF"),
            ("ssh_known_hosts_file", "/tmp/kh"),
        ]);
        assert_eq!(off.ssh.host_key_check, HostKeyCheck::Off);
        assert_eq!(
            off.ssh.known_hosts_path().unwrap(),
            PathBuf::from("/tmp/kh")
        );
        let zero = with(&[("login_timeout", "0"), ("shell_timeout", "0.5")]);
        assert_eq!(zero.ssh.login_timeout, ZERO_TIMEOUT_CAP);
        assert_eq!(zero.ssh.shell_timeout, Duration::from_millis(500));
    }

    #[test]
    fn missing_and_bad_values_are_refused_with_fence_agents_messages() {
        let err = |pairs: &[(&str, &str)]| {
            VboxConfig::from_options(&options(pairs))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&[("username", "u"), ("password", "p")]),
            "ip is required"
        );
        assert_eq!(
            err(&[("ip", "h"), ("password", "p")]),
            "username is required"
        );
        assert_eq!(
            err(&[("ip", "h"), ("username", "u")]),
            "password is required"
        );
        assert!(
            err(&[
                ("ip", "h"),
                ("username", "u"),
                ("identity_file", "/nonexistent/key")
            ])
            .contains("/nonexistent/key")
        );
        assert!(
            err(&[
                ("ip", "h"),
                ("username", "u"),
                ("password", "p"),
                ("ipport", "70000")
            ])
            .contains("ipport")
        );
        assert!(
            err(&[
                ("ip", "h"),
                ("username", "u"),
                ("password", "p"),
                ("inet4_only", "1"),
                ("inet6_only", "1")
            ])
            .contains("exclude")
        );
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = VboxConfig::new("h", "u").password("hunter2");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
