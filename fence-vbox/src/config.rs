//! The typed configuration of a VirtualBox host reached over SSH.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{HOST_OS, MISSING_AS_OFF, VBOXMANAGE_PATH};
use fence_core::params::Options;
use fence_core::params::common;
use fence_core::{Error, InputProblem, Result, Secret};

/// The bound used where fence-agents would wait forever (`login_timeout=0`,
/// `shell_timeout=0`, as `disable_timeout` sets them): every network call stays bounded.
pub const ZERO_TIMEOUT_CAP: Duration = Duration::from_secs(60);

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

/// What to do with the SSH host key (`ssh_host_key_check`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// A known host must present its recorded key (a changed key is refused); the key of
    /// an unknown host is recorded in the known_hosts file and accepted, like OpenSSH's
    /// `StrictHostKeyChecking=accept-new`. The default.
    #[default]
    AcceptNew,
    /// The host must already be in the known_hosts file with the key it presents.
    Strict,
    /// No check at all (anyone who can intercept the connection can impersonate the host
    /// and learn the password).
    Off,
}

impl HostKeyCheck {
    /// Parses `accept-new`, `strict` or `off` (case-insensitively).
    pub fn parse(value: &str) -> Result<HostKeyCheck> {
        match value.to_ascii_lowercase().as_str() {
            "accept-new" => Ok(HostKeyCheck::AcceptNew),
            "strict" => Ok(HostKeyCheck::Strict),
            "off" => Ok(HostKeyCheck::Off),
            _ => Err(Error::input(
                common::SSH_HOST_KEY_CHECK.name,
                InputProblem::NotAChoice {
                    choices: ["accept-new", "strict", "off"].map(String::from).to_vec(),
                    given: Some(value.to_owned()),
                },
            )),
        }
    }
}

/// Which address families to connect over (`inet4_only`, `inet6_only`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpFamily {
    /// Every address the name resolves to, in the resolver's order.
    #[default]
    Any,
    /// IPv4 addresses only.
    V4,
    /// IPv6 addresses only.
    V6,
}

/// How to reach and drive one VirtualBox host.
///
/// Build it from fence-agents options with [`VboxConfig::from_options`], or with
/// [`VboxConfig::new`] and the builder methods. `Debug` never shows the password.
#[derive(Clone)]
#[non_exhaustive]
pub struct VboxConfig {
    /// Host name or address of the VirtualBox host (`ip`), without brackets.
    pub host: String,
    /// SSH port (`ipport`, 22).
    pub port: u16,
    /// Login name (`username`).
    pub username: String,
    /// Password, or the passphrase of `identity_file` (`password`).
    pub password: Option<Secret>,
    /// Private key for key login (`identity_file`).
    pub identity_file: Option<PathBuf>,
    /// Address families to use (`inet4_only`, `inet6_only`).
    pub ip_family: IpFamily,
    /// Bound on name resolution, TCP connect, SSH handshake and authentication together
    /// (`login_timeout`, 5 s).
    pub login_timeout: Duration,
    /// Bound on each remote command (`shell_timeout`, 3 s).
    pub shell_timeout: Duration,
    /// The host's operating system (`host_os`).
    pub host_os: HostOs,
    /// Path of `VBoxManage` on the host (`vboxmanage_path`, or the `host_os` default).
    pub vboxmanage_path: String,
    /// Path of `sudo` on the host when VBoxManage runs through sudo (`use_sudo`,
    /// `sudo_path`).
    pub sudo_path: Option<String>,
    /// An unknown VM reads as Off instead of failing (`missing_as_off`).
    pub missing_as_off: bool,
    /// The host key policy (`ssh_host_key_check`).
    pub host_key_check: HostKeyCheck,
    /// The known_hosts file (`ssh_known_hosts_file`); `None` means
    /// `~/.ssh/known_hosts` of the user running the agent.
    pub known_hosts_file: Option<PathBuf>,
}

impl fmt::Debug for VboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VboxConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("identity_file", &self.identity_file)
            .field("ip_family", &self.ip_family)
            .field("login_timeout", &self.login_timeout)
            .field("shell_timeout", &self.shell_timeout)
            .field("host_os", &self.host_os)
            .field("vboxmanage_path", &self.vboxmanage_path)
            .field("sudo_path", &self.sudo_path)
            .field("missing_as_off", &self.missing_as_off)
            .field("host_key_check", &self.host_key_check)
            .field("known_hosts_file", &self.known_hosts_file)
            .finish()
    }
}

impl VboxConfig {
    /// A configuration with fence_vbox's defaults for `host`, logging in as `username`.
    /// Add a password or key with [`VboxConfig::password`] / [`VboxConfig::identity_file`].
    pub fn new(host: impl Into<String>, username: impl Into<String>) -> Self {
        VboxConfig {
            host: strip_brackets(&host.into()).to_owned(),
            port: 22,
            username: username.into(),
            password: None,
            identity_file: None,
            ip_family: IpFamily::Any,
            login_timeout: Duration::from_secs(5),
            shell_timeout: Duration::from_secs(3),
            host_os: HostOs::Linux,
            vboxmanage_path: HostOs::Linux.default_vboxmanage_path().to_owned(),
            sudo_path: None,
            missing_as_off: false,
            host_key_check: HostKeyCheck::AcceptNew,
            known_hosts_file: None,
        }
    }

    /// Sets the SSH port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the password (or the passphrase of the identity file).
    pub fn password(mut self, password: impl Into<Secret>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Logs in with this private key (its passphrase is the password, if any).
    pub fn identity_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.identity_file = Some(path.into());
        self
    }

    /// Sets the login and command timeouts.
    pub fn timeouts(mut self, login: Duration, shell: Duration) -> Self {
        self.login_timeout = login;
        self.shell_timeout = shell;
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
        self.host_key_check = check;
        self
    }

    /// Uses this known_hosts file instead of `~/.ssh/known_hosts`.
    pub fn known_hosts_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.known_hosts_file = Some(path.into());
        self
    }

    /// Builds the configuration from fence-agents options (`ip`, `ipport`, `username`,
    /// `password`, `identity_file`, `inet4_only`, `inet6_only`, `login_timeout`,
    /// `shell_timeout`, `host_os`, `vboxmanage_path`, `use_sudo`, `sudo_path`,
    /// `missing_as_off`, `ssh_host_key_check`, `ssh_known_hosts_file`). Fails with
    /// [`Error::InvalidInput`] naming the option and what is wrong with it.
    /// The only I/O is a check that `identity_file` exists.
    pub fn from_options(options: &Options) -> Result<VboxConfig> {
        let host = options
            .non_empty(common::IP.name)
            .map(|h| strip_brackets(h.trim()).to_owned())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::missing(common::IP.name))?;
        let port = match options.integer(common::IPPORT.name)? {
            None => 22,
            Some(p) => u16::try_from(p).ok().filter(|p| *p != 0).ok_or_else(|| {
                Error::invalid_input(format!(
                    "The value you have entered for --ipport is not a valid port number: {p}"
                ))
            })?,
        };
        let username = options
            .non_empty(common::USERNAME.name)
            .ok_or_else(|| Error::missing(common::USERNAME.name))?
            .to_owned();
        let password = options
            .secret(common::PASSWORD.name)
            .filter(|s| !s.is_empty());
        let identity_file = options
            .non_empty(common::IDENTITY_FILE.name)
            .map(expand_tilde);
        if let Some(key) = &identity_file {
            if !key.is_file() {
                return Err(Error::invalid_input(format!(
                    "Identity file {} does not exist or is not a file",
                    key.display()
                )));
            }
        } else if password.is_none() {
            return Err(Error::missing(common::PASSWORD.name));
        }
        let ip_family = match (
            options.flag(common::INET4_ONLY.name),
            options.flag(common::INET6_ONLY.name),
        ) {
            (true, true) => {
                return Err(Error::invalid_input(
                    "--inet4-only and --inet6-only exclude each other",
                ));
            }
            (true, false) => IpFamily::V4,
            (false, true) => IpFamily::V6,
            (false, false) => IpFamily::Any,
        };
        let login_timeout = bounded(options.seconds(common::LOGIN_TIMEOUT.name)?, 5);
        let shell_timeout = bounded(options.seconds(common::SHELL_TIMEOUT.name)?, 3);
        let host_os = HostOs::parse(options.get(HOST_OS.name).unwrap_or("linux"))?;
        let vboxmanage_path = match options.non_empty(VBOXMANAGE_PATH.name) {
            Some(p) if options.is_set(VBOXMANAGE_PATH.name) => p.to_owned(),
            _ => host_os.default_vboxmanage_path().to_owned(),
        };
        let sudo_path = options.flag(common::USE_SUDO.name).then(|| {
            options
                .non_empty(common::SUDO_PATH.name)
                .unwrap_or("/usr/bin/sudo")
                .to_owned()
        });
        let host_key_check = HostKeyCheck::parse(
            options
                .get(common::SSH_HOST_KEY_CHECK.name)
                .unwrap_or("accept-new"),
        )?;
        let known_hosts_file = options
            .non_empty(common::SSH_KNOWN_HOSTS_FILE.name)
            .map(expand_tilde);
        Ok(VboxConfig {
            host,
            port,
            username,
            password,
            identity_file,
            ip_family,
            login_timeout,
            shell_timeout,
            host_os,
            vboxmanage_path,
            sudo_path,
            missing_as_off: options.flag(MISSING_AS_OFF.name),
            host_key_check,
            known_hosts_file,
        })
    }

    /// `host:port` (`[v6]:port`) for messages and logs.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The known_hosts file to use: the configured one, or `~/.ssh/known_hosts` of the user
    /// running the agent (`$HOME`, else the home directory in `/etc/passwd`).
    pub fn known_hosts_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.known_hosts_file {
            return Ok(p.clone());
        }
        home_dir()
            .map(|h| h.join(".ssh").join("known_hosts"))
            .ok_or_else(|| {
                Error::invalid_input(
                    "cannot find the home directory for ~/.ssh/known_hosts; set ssh_known_hosts_file",
                )
            })
    }
}

/// A timeout option: its value, the default when unset, [`ZERO_TIMEOUT_CAP`] for 0.
fn bounded(value: Option<Duration>, default_secs: u64) -> Duration {
    match value {
        None => Duration::from_secs(default_secs),
        Some(d) if d.is_zero() => ZERO_TIMEOUT_CAP,
        Some(d) => d,
    }
}

/// `~/x` as the home directory's `x` (OpenSSH expands `-i ~/.ssh/id_rsa` this way, so
/// fence_vbox configurations may use it); other paths as they are.
fn expand_tilde(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The running user's home: `$HOME`, else the passwd entry of the process's real uid.
fn home_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string(Path::new("/etc/passwd")).ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2] == uid).then(|| PathBuf::from(fields[5]))
    })
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
        assert_eq!(c.port, 22);
        assert_eq!(c.login_timeout, Duration::from_secs(5));
        assert_eq!(c.shell_timeout, Duration::from_secs(3));
        assert_eq!(c.vboxmanage_path, "VBoxManage");
        assert_eq!(c.sudo_path, None);
        assert_eq!(c.host_key_check, HostKeyCheck::AcceptNew);
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
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.address(), "[::1]:2222");
        assert_eq!(v6.ip_family, IpFamily::V6);
        let off = with(&[
            ("ssh_host_key_check", "OFF"),
            ("ssh_known_hosts_file", "/tmp/kh"),
        ]);
        assert_eq!(off.host_key_check, HostKeyCheck::Off);
        assert_eq!(off.known_hosts_path().unwrap(), PathBuf::from("/tmp/kh"));
        let zero = with(&[("login_timeout", "0"), ("shell_timeout", "0.5")]);
        assert_eq!(zero.login_timeout, ZERO_TIMEOUT_CAP);
        assert_eq!(zero.shell_timeout, Duration::from_millis(500));
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
    fn tilde_means_the_home_directory() {
        let home = home_dir().expect("a home directory");
        assert_eq!(
            expand_tilde("~/.ssh/id_ed25519"),
            home.join(".ssh/id_ed25519")
        );
        assert_eq!(expand_tilde("/etc/key"), PathBuf::from("/etc/key"));
        assert_eq!(expand_tilde("~other/key"), PathBuf::from("~other/key"));
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = VboxConfig::new("h", "u").password("hunter2");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
