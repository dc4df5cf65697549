//! The parameter table: one declarative description of every option.
//!
//! Each [`ParamSpec`] row says how an option is named on stdin (with its deprecated alias),
//! on the command line (getopt short and long forms), its type, default, whether it is
//! required, where it sorts in metadata and what it means. The CLI renders metadata XML,
//! `--help`, the man page and both parsers from the table; backends build their typed
//! configuration from the [`Options`] parsed against it. One source of truth.
//!
//! fence-core holds the rows every fence-agents agent shares ([`common`]); each backend
//! crate declares its own rows and adjusts defaults (for example `ipport`).
//!
//! Booleans accept `1/yes/on/true` and `0/no/off/false` (case-insensitive), and **a false
//! value means false**. This is a documented divergence from fence-agents, where
//! `ssl_insecure=0` switches certificate verification off because only the presence of the
//! key is tested.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::error::{Error, InputProblem, Result};
use crate::secret::Secret;

/// The type of an option's value, as metadata's `<content type=...>` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    /// A flag: `1/yes/on/true` or `0/no/off/false`; given alone on the command line.
    Boolean,
    /// Any text.
    String,
    /// A whole number.
    Integer,
    /// A number of seconds (whole or decimal).
    Second,
    /// One of a fixed list of choices (compared case-insensitively).
    Select(&'static [&'static str]),
}

impl ParamType {
    /// The `type` attribute of metadata's `<content>` element.
    pub fn content_type(self) -> &'static str {
        match self {
            ParamType::Boolean => "boolean",
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Second => "second",
            ParamType::Select(_) => "select",
        }
    }

    /// True when the option takes a value on the command line.
    pub fn takes_value(self) -> bool {
        self != ParamType::Boolean
    }
}

/// Whether this implementation uses an option, or accepts it only so that existing
/// cluster configurations keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// The option does what its description says.
    Used,
    /// Accepted and ignored; the text says why (for example `ipmitool_path`: there is no
    /// ipmitool to run).
    Unused(&'static str),
}

/// One option of an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParamSpec {
    /// The name on stdin and in metadata (`ip`, `username`, `redfish_uri`).
    pub name: &'static str,
    /// The deprecated stdin name, advertised with `deprecated="1"` (`ipaddr`, `login`).
    pub deprecated_name: Option<&'static str>,
    /// The getopt short letter (`a` for `-a`).
    pub short: Option<char>,
    /// The getopt long name without dashes (`ip` for `--ip`, `redfish-uri`).
    pub long: &'static str,
    /// The placeholder shown in help and metadata (`ip` gives `--ip=[ip]`).
    pub hint: Option<&'static str>,
    /// The value's type.
    pub ty: ParamType,
    /// The default value, as metadata prints it.
    pub default: Option<&'static str>,
    /// Whether metadata marks it `required="1"`.
    pub required: bool,
    /// The metadata sort order (fence-agents: 1 connection options, 50-55 logging, 100
    /// separators, 200 timing, 201 retry_on, 205 sudo, 300 paths).
    pub order: u16,
    /// The one-line description.
    pub shortdesc: &'static str,
    /// Whether the value is a secret (never logged, redacted in `Debug`).
    pub secret: bool,
    /// Whether this implementation uses the option.
    pub usage: Usage,
}

impl ParamSpec {
    /// A new row named `name`, with the long option derived from it (`_` becomes `-`).
    ///
    /// The derived long name is only available for names without `_`; rows with `_` set
    /// it with [`ParamSpec::long`].
    pub const fn new(name: &'static str, ty: ParamType) -> Self {
        ParamSpec {
            name,
            deprecated_name: None,
            short: None,
            long: name,
            hint: None,
            ty,
            default: None,
            required: false,
            order: 1,
            shortdesc: "",
            secret: false,
            usage: Usage::Used,
        }
    }

    /// Sets the deprecated stdin alias.
    pub const fn deprecated(mut self, old_name: &'static str) -> Self {
        self.deprecated_name = Some(old_name);
        self
    }

    /// Sets the getopt short letter.
    pub const fn short(mut self, letter: char) -> Self {
        self.short = Some(letter);
        self
    }

    /// Sets the getopt long name (without the leading dashes).
    pub const fn long(mut self, long: &'static str) -> Self {
        self.long = long;
        self
    }

    /// Sets the value placeholder of help and metadata.
    pub const fn hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }

    /// Sets the default value.
    pub const fn default_value(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    /// Removes the default value.
    pub const fn no_default(mut self) -> Self {
        self.default = None;
        self
    }

    /// Marks the option required (or not).
    pub const fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// Sets the metadata sort order.
    pub const fn order(mut self, order: u16) -> Self {
        self.order = order;
        self
    }

    /// Sets the one-line description.
    pub const fn desc(mut self, shortdesc: &'static str) -> Self {
        self.shortdesc = shortdesc;
        self
    }

    /// Marks the value secret.
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Marks the option accepted but unused, with the reason.
    pub const fn unused(mut self, why: &'static str) -> Self {
        self.usage = Usage::Unused(why);
        self
    }

    /// The getopt string of metadata's `<getopt mixed=...>`: `-a, --ip=[ip]`.
    pub fn mixed(&self) -> String {
        let mut s = String::new();
        if let Some(c) = self.short {
            s.push('-');
            s.push(c);
            s.push_str(", ");
        }
        s.push_str("--");
        s.push_str(self.long);
        if let Some(h) = self.hint {
            s.push_str("=[");
            s.push_str(h);
            s.push(']');
        }
        s
    }

    /// The names accepted on stdin for this option, following fence-agents: the name, the
    /// deprecated name, and the long name with `-` or `_`.
    pub fn stdin_names(&self) -> Vec<String> {
        let mut names = vec![self.name.to_owned()];
        if let Some(old) = self.deprecated_name {
            names.push(old.to_owned());
        }
        names.push(self.long.to_owned());
        names.push(self.long.replace('-', "_"));
        names.push(self.name.replace('_', "-"));
        names.sort();
        names.dedup();
        names
    }
}

/// An agent's whole parameter table: the common rows plus the backend's own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamTable {
    rows: Vec<ParamSpec>,
}

impl ParamTable {
    /// An empty table.
    pub fn new() -> Self {
        ParamTable::default()
    }

    /// Adds rows; a row whose name is already present replaces the old one.
    pub fn with(mut self, rows: &[ParamSpec]) -> Self {
        for row in rows {
            self.insert(row.clone());
        }
        self
    }

    /// Adds or replaces one row.
    pub fn insert(&mut self, row: ParamSpec) {
        match self.rows.iter_mut().find(|r| r.name == row.name) {
            Some(existing) => *existing = row,
            None => self.rows.push(row),
        }
    }

    /// Removes the row named `name`.
    pub fn remove(&mut self, name: &str) {
        self.rows.retain(|r| r.name != name);
    }

    /// Changes the default of the row named `name` (no effect if there is no such row).
    pub fn set_default(&mut self, name: &str, default: Option<&'static str>) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.name == name) {
            row.default = default;
        }
    }

    /// Changes whether the row named `name` is required.
    pub fn set_required(&mut self, name: &str, required: bool) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.name == name) {
            row.required = required;
        }
    }

    /// Every row, in insertion order.
    pub fn rows(&self) -> &[ParamSpec] {
        &self.rows
    }

    /// The row named `name` (its canonical name).
    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.rows.iter().find(|r| r.name == name)
    }

    /// The row a stdin key names, following fence-agents' rules: the canonical name, the
    /// deprecated name, or the long name with `-` or `_`. Names are case-sensitive.
    pub fn resolve(&self, key: &str) -> Option<&ParamSpec> {
        self.get(key)
            .or_else(|| self.rows.iter().find(|r| r.deprecated_name == Some(key)))
            .or_else(|| {
                let dashed = key.replace('_', "-");
                self.rows.iter().find(|r| r.long == dashed || r.long == key)
            })
    }

    /// The row of a getopt long option (`ip` for `--ip`).
    pub fn by_long(&self, long: &str) -> Option<&ParamSpec> {
        self.rows.iter().find(|r| r.long == long)
    }

    /// The row of a getopt short option (`a` for `-a`).
    pub fn by_short(&self, short: char) -> Option<&ParamSpec> {
        self.rows.iter().find(|r| r.short == Some(short))
    }

    /// Parses `key=value` pairs against the table. Unknown keys and malformed values are
    /// errors; the CLI, which must warn and go on as fence-agents does, uses
    /// [`Options::set`] one pair at a time instead.
    pub fn parse<'a>(
        &self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Options> {
        let mut options = Options::new(self.clone());
        for (k, v) in pairs {
            options.set(k, v)?;
        }
        Ok(options)
    }
}

/// Option values parsed against a [`ParamTable`], with the table's defaults behind them.
#[derive(Clone, PartialEq, Eq)]
pub struct Options {
    table: ParamTable,
    values: BTreeMap<&'static str, String>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.values {
            let secret = self.table.get(name).is_some_and(|r| r.secret);
            if secret {
                map.entry(name, &"[redacted]");
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

/// Parses a boolean as fence-agents accepts it.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "on" | "true" => Some(true),
        "0" | "no" | "off" | "false" => Some(false),
        _ => None,
    }
}

/// Parses a number of seconds (`5`, `0.5`); negative, non-finite and too large values
/// (beyond `Duration`'s range, e.g. `18446744073709551616`) are refused.
pub fn parse_seconds(value: &str) -> Option<Duration> {
    let v: f64 = value.trim().parse().ok()?;
    if v.is_finite() && v >= 0.0 {
        Duration::try_from_secs_f64(v).ok()
    } else {
        None
    }
}

impl Options {
    /// No values set: every lookup gives the table's default.
    pub fn new(table: ParamTable) -> Self {
        Options {
            table,
            values: BTreeMap::new(),
        }
    }

    /// The table the options were parsed against.
    pub fn table(&self) -> &ParamTable {
        &self.table
    }

    /// Sets an option by any of its stdin names, checking the value against its type.
    /// Booleans are stored as `1` or `0`; an empty boolean value (a bare command-line
    /// flag) means true; select values are stored lowercase. The last value set wins.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let row = self
            .table
            .resolve(key)
            .ok_or_else(|| Error::input(key, InputProblem::UnknownOption))?;
        let normalized = match row.ty {
            ParamType::Boolean if value.is_empty() => "1".to_owned(),
            ParamType::Boolean => match parse_bool(value) {
                Some(true) => "1".to_owned(),
                Some(false) => "0".to_owned(),
                None => return Err(Error::input(row.name, InputProblem::NotABoolean)),
            },
            ParamType::Integer => {
                value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| Error::input(row.name, InputProblem::NotInteger))?;
                value.trim().to_owned()
            }
            ParamType::Second => {
                parse_seconds(value)
                    .ok_or_else(|| Error::input(row.name, InputProblem::NotSeconds))?;
                value.trim().to_owned()
            }
            ParamType::Select(choices) => {
                let lower = value.to_ascii_lowercase();
                if !choices.contains(&lower.as_str()) {
                    return Err(Error::input(
                        row.name,
                        InputProblem::NotAChoice {
                            choices: choices.iter().map(|c| (*c).to_owned()).collect(),
                            given: Some(lower),
                        },
                    ));
                }
                lower
            }
            ParamType::String => value.to_owned(),
        };
        let name = row.name;
        self.values.insert(name, normalized);
        Ok(())
    }

    /// Removes an explicitly set value (the default applies again).
    pub fn unset(&mut self, name: &str) {
        self.values.remove(name);
    }

    /// True when the option was given explicitly.
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The options given explicitly, by canonical name (secrets included: do not log).
    pub fn explicit(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.values.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// The value, or the table's default; `None` when neither exists.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .or_else(|| self.table.get(name).and_then(|r| r.default))
    }

    /// The value as a non-empty string, or `None`.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// A boolean option: true only for a true value (a false value means false).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).and_then(parse_bool).unwrap_or(false)
    }

    /// An integer option.
    pub fn integer(&self, name: &str) -> Result<Option<i64>> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| Error::input(name, InputProblem::NotInteger)),
        }
    }

    /// A duration option in seconds.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => parse_seconds(v)
                .map(Some)
                .ok_or_else(|| Error::input(name, InputProblem::NotSeconds)),
        }
    }

    /// A secret option, wrapped so it cannot be logged by accident.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.get(name).map(Secret::new)
    }
}

/// The rows every fence-agents agent shares (fence-agents-protocol.md 1.5), with
/// fence-agents' names, getopt forms, defaults, orders and descriptions.
pub mod common {
    use super::{ParamSpec, ParamType};

    /// `action`: the fencing action.
    pub const ACTION: ParamSpec = ParamSpec::new("action", ParamType::String)
        .short('o')
        .hint("action")
        .default_value("reboot")
        .required(true)
        .desc("Fencing action");
    /// `ip` (`ipaddr`): the device's address.
    pub const IP: ParamSpec = ParamSpec::new("ip", ParamType::String)
        .deprecated("ipaddr")
        .short('a')
        .hint("ip")
        .required(true)
        .desc("IP address or hostname of fencing device");
    /// `ipport`: the device's TCP/UDP port (each backend sets its default).
    pub const IPPORT: ParamSpec = ParamSpec::new("ipport", ParamType::Integer)
        .short('u')
        .hint("port")
        .desc("TCP/UDP port to use for connection with device");
    /// `username` (`login`).
    pub const USERNAME: ParamSpec = ParamSpec::new("username", ParamType::String)
        .deprecated("login")
        .short('l')
        .hint("name")
        .required(true)
        .desc("Login name");
    /// `password` (`passwd`).
    pub const PASSWORD: ParamSpec = ParamSpec::new("password", ParamType::String)
        .deprecated("passwd")
        .short('p')
        .hint("password")
        .secret()
        .desc("Login password or passphrase");
    /// `password_script` (`passwd_script`): a command whose output is the password. Secret
    /// too: its command line may hold the password itself (`echo hunter2`).
    pub const PASSWORD_SCRIPT: ParamSpec = ParamSpec::new("password_script", ParamType::String)
        .deprecated("passwd_script")
        .short('S')
        .long("password-script")
        .hint("script")
        .secret()
        .desc("Script to run to retrieve password");
    /// `plug` (`port`): the target on the device.
    pub const PLUG: ParamSpec = ParamSpec::new("plug", ParamType::String)
        .deprecated("port")
        .short('n')
        .hint("id")
        .required(true)
        .desc("Physical plug number on device, UUID or identification of machine");
    /// `port_as_ip`: use the plug as the device address.
    pub const PORT_AS_IP: ParamSpec = ParamSpec::new("port_as_ip", ParamType::Boolean)
        .long("port-as-ip")
        .order(200)
        .desc("Make \"port/plug\" to be an alias to IP address");
    /// `ssl`: use TLS.
    pub const SSL: ParamSpec = ParamSpec::new("ssl", ParamType::Boolean)
        .short('z')
        .desc("Use SSL connection with verifying certificate");
    /// `ssl_secure`: use TLS and verify the certificate.
    pub const SSL_SECURE: ParamSpec = ParamSpec::new("ssl_secure", ParamType::Boolean)
        .long("ssl-secure")
        .desc("Use SSL connection with verifying certificate");
    /// `ssl_insecure`: use TLS without verifying the certificate.
    pub const SSL_INSECURE: ParamSpec = ParamSpec::new("ssl_insecure", ParamType::Boolean)
        .long("ssl-insecure")
        .desc("Use SSL connection without verifying certificate");
    /// `quiet`.
    pub const QUIET: ParamSpec = ParamSpec::new("quiet", ParamType::Boolean)
        .short('q')
        .order(50)
        .desc("Disable logging to stderr. Does not affect --verbose or --debug-file or logging to syslog.");
    /// `verbose`.
    pub const VERBOSE: ParamSpec = ParamSpec::new("verbose", ParamType::Boolean)
        .short('v')
        .order(51)
        .desc("Verbose mode. Multiple -v flags can be stacked on the command line (e.g., -vvv) to increase verbosity.");
    /// `verbose_level`.
    pub const VERBOSE_LEVEL: ParamSpec = ParamSpec::new("verbose_level", ParamType::Integer)
        .long("verbose-level")
        .order(52)
        .desc("Level of debugging detail in output. Defaults to the number of --verbose flags specified on the command line, or to 1 if verbose=1 in a stonith device configuration (i.e., on stdin).");
    /// `debug_file` (`debug`).
    pub const DEBUG_FILE: ParamSpec = ParamSpec::new("debug_file", ParamType::String)
        .deprecated("debug")
        .short('D')
        .long("debug-file")
        .hint("debugfile")
        .order(53)
        .desc("Write debug information to given file");
    /// `version`.
    pub const VERSION: ParamSpec = ParamSpec::new("version", ParamType::Boolean)
        .short('V')
        .order(54)
        .desc("Display version information and exit");
    /// `help`.
    pub const HELP: ParamSpec = ParamSpec::new("help", ParamType::Boolean)
        .short('h')
        .order(55)
        .desc("Display help and exit");
    /// `plug_separator`.
    pub const PLUG_SEPARATOR: ParamSpec = ParamSpec::new("plug_separator", ParamType::String)
        .long("plug-separator")
        .hint("char")
        .default_value(",")
        .order(100)
        .desc("Separator for plug parameter when specifying more than 1 plug");
    /// `separator`: the list output's separator.
    pub const SEPARATOR: ParamSpec = ParamSpec::new("separator", ParamType::String)
        .short('C')
        .hint("char")
        .default_value(",")
        .order(100)
        .desc("Separator for CSV created by 'list' operation");
    /// `delay`: seconds to wait before an off or reboot starts.
    pub const DELAY: ParamSpec = ParamSpec::new("delay", ParamType::Second)
        .hint("seconds")
        .default_value("0")
        .order(200)
        .desc("Wait X seconds before fencing is started");
    /// `disable_timeout`.
    pub const DISABLE_TIMEOUT: ParamSpec = ParamSpec::new("disable_timeout", ParamType::String)
        .long("disable-timeout")
        .hint("true/false")
        .order(200)
        .desc("Disable timeout (true/false) (default: true when run from Pacemaker 2.0+)");
    /// `login_timeout`.
    pub const LOGIN_TIMEOUT: ParamSpec = ParamSpec::new("login_timeout", ParamType::Second)
        .long("login-timeout")
        .hint("seconds")
        .default_value("5")
        .order(200)
        .desc("Wait X seconds for cmd prompt after login");
    /// `power_timeout`.
    pub const POWER_TIMEOUT: ParamSpec = ParamSpec::new("power_timeout", ParamType::Second)
        .long("power-timeout")
        .hint("seconds")
        .default_value("20")
        .order(200)
        .desc("Test X seconds for status change after ON/OFF");
    /// `power_wait`.
    pub const POWER_WAIT: ParamSpec = ParamSpec::new("power_wait", ParamType::Second)
        .long("power-wait")
        .hint("seconds")
        .default_value("0")
        .order(200)
        .desc("Wait X seconds after issuing ON/OFF");
    /// `shell_timeout`.
    pub const SHELL_TIMEOUT: ParamSpec = ParamSpec::new("shell_timeout", ParamType::Second)
        .long("shell-timeout")
        .hint("seconds")
        .default_value("3")
        .order(200)
        .desc("Wait X seconds for cmd prompt after issuing command");
    /// `stonith_status_sleep`.
    pub const STONITH_STATUS_SLEEP: ParamSpec =
        ParamSpec::new("stonith_status_sleep", ParamType::Second)
            .long("stonith-status-sleep")
            .hint("seconds")
            .default_value("1")
            .order(200)
            .desc("Sleep X seconds between status calls during a STONITH action");
    /// `retry_on`.
    pub const RETRY_ON: ParamSpec = ParamSpec::new("retry_on", ParamType::Integer)
        .long("retry-on")
        .hint("attempts")
        .default_value("1")
        .order(201)
        .desc("Count of attempts to retry power on");
    /// `method`: how reboot is done.
    pub const METHOD: ParamSpec = ParamSpec::new("method", ParamType::Select(&["onoff", "cycle"]))
        .short('m')
        .hint("method")
        .default_value("onoff")
        .desc("Method to fence");

    // Rows that several agents share beyond the ones every agent has: the SSH transport
    // (fence_vbox, and every SSH agent of fence-agents) and sudo. A backend lists the ones
    // it takes in its `params()`, marking with `.unused(why)` those it accepts for
    // compatibility only.

    /// `identity_file`: the private key for SSH login.
    pub const IDENTITY_FILE: ParamSpec = ParamSpec::new("identity_file", ParamType::String)
        .short('k')
        .long("identity-file")
        .hint("filename")
        .desc("Identity file (private key) for SSH");
    /// `inet4_only`: connect over IPv4 only.
    pub const INET4_ONLY: ParamSpec = ParamSpec::new("inet4_only", ParamType::Boolean)
        .short('4')
        .long("inet4-only")
        .desc("Forces agent to use IPv4 addresses only");
    /// `inet6_only`: connect over IPv6 only.
    pub const INET6_ONLY: ParamSpec = ParamSpec::new("inet6_only", ParamType::Boolean)
        .short('6')
        .long("inet6-only")
        .desc("Forces agent to use IPv6 addresses only");
    /// `ssh` (`secure`): use SSH (on by default for SSH-only agents).
    pub const SSH: ParamSpec = ParamSpec::new("ssh", ParamType::Boolean)
        .deprecated("secure")
        .short('x')
        .default_value("1")
        .desc("Use SSH connection");
    /// `ssh_options`: fence-agents' options for its ssh program.
    pub const SSH_OPTIONS: ParamSpec = ParamSpec::new("ssh_options", ParamType::String)
        .long("ssh-options")
        .hint("options")
        .default_value(
            "-t '/bin/bash -c \"PS1=\\\\[EXPECT\\\\]# HISTFILE=/dev/null /bin/bash --noprofile --norc\"'",
        )
        .desc("SSH options to use");
    /// `command_prompt` (`cmd_prompt`) of fence-agents' SSH agents: accepted for
    /// compatibility, not used by fence-rs's SSH layer (fence-ssh).
    pub const COMMAND_PROMPT: ParamSpec = ParamSpec::new("command_prompt", ParamType::String)
        .deprecated("cmd_prompt")
        .short('c')
        .long("command-prompt")
        .hint("prompt")
        .default_value("['\\\\[EXPECT\\\\]#']")
        .desc("Force Python regex for command prompt")
        .unused(
            "commands run on SSH exec channels and their end is signalled by SSH; no prompt is matched",
        );
    /// `missing_as_off`: an unknown VM or domain reads as off.
    pub const MISSING_AS_OFF: ParamSpec = ParamSpec::new("missing_as_off", ParamType::Boolean)
        .long("missing-as-off")
        .order(200)
        .desc("Missing port returns OFF instead of failure");
    /// `ssh_path`: fence-agents' ssh program.
    pub const SSH_PATH: ParamSpec = ParamSpec::new("ssh_path", ParamType::String)
        .long("ssh-path")
        .hint("path")
        .default_value("/usr/bin/ssh")
        .order(300)
        .desc("Path to ssh binary");
    /// The `ssh_host_key_check` choices.
    pub const HOST_KEY_CHECK_CHOICES: &[&str] = &["accept-new", "strict", "off"];
    /// `ssh_known_hosts_file`: the known_hosts file of the host key check (fence-rs option).
    pub const SSH_KNOWN_HOSTS_FILE: ParamSpec =
        ParamSpec::new("ssh_known_hosts_file", ParamType::String)
            .long("ssh-known-hosts-file")
            .hint("filename")
            .desc("known_hosts file checked for the SSH host key, and where new keys are recorded (default: ~/.ssh/known_hosts of the user running the agent)");
    /// `ssh_host_key_check`: the host key policy (fence-rs option).
    pub const SSH_HOST_KEY_CHECK: ParamSpec =
        ParamSpec::new("ssh_host_key_check", ParamType::Select(HOST_KEY_CHECK_CHOICES))
            .long("ssh-host-key-check")
            .hint("policy")
            .default_value("accept-new")
            .desc("SSH host key check: accept-new (record an unknown key, refuse a changed one), strict (refuse unknown and changed keys), off (no check; not recommended)");
    /// `use_sudo` (`sudo`): run the agent's third-party program through sudo.
    pub const USE_SUDO: ParamSpec = ParamSpec::new("use_sudo", ParamType::Boolean)
        .deprecated("sudo")
        .long("use-sudo")
        .order(205)
        .desc("Use sudo (without password) when calling 3rd party software");
    /// `sudo_path`: where sudo is.
    pub const SUDO_PATH: ParamSpec = ParamSpec::new("sudo_path", ParamType::String)
        .long("sudo-path")
        .hint("path")
        .default_value("/usr/bin/sudo")
        .order(300)
        .desc("Path to sudo binary");

    /// The rows every agent gets (fence-agents' dependency expansion for all agents).
    pub fn every_agent() -> Vec<ParamSpec> {
        vec![
            ACTION,
            QUIET,
            VERBOSE,
            VERBOSE_LEVEL,
            DEBUG_FILE,
            VERSION,
            HELP,
            PLUG_SEPARATOR,
            DELAY,
            DISABLE_TIMEOUT,
            LOGIN_TIMEOUT,
            POWER_TIMEOUT,
            POWER_WAIT,
            SHELL_TIMEOUT,
            STONITH_STATUS_SLEEP,
            RETRY_ON,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ParamTable {
        ParamTable::new().with(&common::every_agent()).with(&[
            common::IP,
            common::PASSWORD,
            common::SSL_INSECURE,
            common::METHOD,
            common::PASSWORD_SCRIPT,
        ])
    }

    #[test]
    fn stdin_names_resolve_old_new_and_dashed_forms() {
        let t = table();
        assert_eq!(t.resolve("ipaddr").map(|r| r.name), Some("ip"));
        assert_eq!(t.resolve("ip").map(|r| r.name), Some("ip"));
        assert_eq!(
            t.resolve("power-timeout").map(|r| r.name),
            Some("power_timeout")
        );
        assert_eq!(
            t.resolve("power_timeout").map(|r| r.name),
            Some("power_timeout")
        );
        assert_eq!(
            t.resolve("passwd_script").map(|r| r.name),
            Some("password_script")
        );
        assert_eq!(
            t.resolve("password-script").map(|r| r.name),
            Some("password_script")
        );
        assert_eq!(t.resolve("IP"), None, "names are case-sensitive");
        assert_eq!(t.resolve("bogus"), None);
    }

    #[test]
    fn false_means_false() {
        let t = table();
        let o = t.parse([("ssl_insecure", "0")]).unwrap();
        assert!(!o.flag("ssl_insecure"));
        let o = t.parse([("ssl_insecure", "TRUE")]).unwrap();
        assert!(o.flag("ssl_insecure"));
        let o = t.parse([("ssl_insecure", "")]).unwrap();
        assert!(o.flag("ssl_insecure"), "a bare flag means true");
        assert!(t.parse([("ssl_insecure", "maybe")]).is_err());
    }

    #[test]
    fn defaults_values_and_types() {
        let t = table();
        let o = t
            .parse([
                ("ipaddr", "10.0.0.1"),
                ("ip", "10.0.0.2"),
                ("method", "CYCLE"),
            ])
            .unwrap();
        assert_eq!(
            o.get("ip"),
            Some("10.0.0.2"),
            "last value wins across old and new names"
        );
        assert_eq!(o.get("method"), Some("cycle"));
        assert_eq!(
            o.seconds("power_timeout").unwrap(),
            Some(Duration::from_secs(20))
        );
        assert_eq!(o.integer("retry_on").unwrap(), Some(1));
        let err = t.parse([("power_wait", "soon")]).unwrap_err();
        assert_eq!(
            err.input_problem(),
            Some((Some("power_wait"), &InputProblem::NotSeconds))
        );
        assert!(t.parse([("method", "sideways")]).is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        let o = table()
            .parse([
                ("password", "hunter2"),
                ("password_script", "echo scripted-pw"),
                ("ip", "bmc"),
            ])
            .unwrap();
        let shown = format!("{o:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        // Regression: the password script's command line was shown as it is.
        assert!(!shown.contains("scripted-pw"), "{shown}");
        assert!(shown.contains("bmc"));
    }

    #[test]
    fn mixed_getopt_strings() {
        assert_eq!(common::IP.mixed(), "-a, --ip=[ip]");
        assert_eq!(common::VERBOSE.mixed(), "-v, --verbose");
        assert_eq!(common::VERBOSE_LEVEL.mixed(), "--verbose-level");
        assert_eq!(
            common::PASSWORD_SCRIPT.mixed(),
            "-S, --password-script=[script]"
        );
    }
}
