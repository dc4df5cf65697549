//! Reading the options: getopt on the command line, `name=value` lines on stdin, both
//! against the persona's parameter table, with fence-agents' rules and messages.
//!
//! - Any argument means command-line mode and stdin is never read; no argument means stdin
//!   is read to EOF (fence-agents-protocol.md 1.2).
//! - Command line: Python's `getopt.gnu_getopt` (short letters bundled, `-xVALUE`,
//!   `-x VALUE`, `--name=value`, `--name value`, unique prefixes of long names, options
//!   and operands in any order, `--` ends the options).
//! - stdin: lines trimmed, blank and `#` lines skipped, split at the first `=`, one pair of
//!   surrounding double quotes dropped, old and new names and `-`/`_` forms, `nodename`
//!   ignored, unknown names warned about and ignored, last value wins.
//!
//! Values that do not fit their type (`power_wait=soon`, `method=sideways`) are kept aside
//! and reported by validation, as fence-agents reports them there.

use std::collections::{BTreeMap, BTreeSet};

use fence_core::params::{Options, ParamSpec, ParamTable, ParamType, parse_bool};

use crate::agents::Agent;
use crate::logging::{early, early_echo};

/// A command line that cannot be parsed: the message (without the usage hint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseFailure(pub String);

/// The options read from the command line or stdin.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    /// The values that fit their type.
    pub options: Options,
    /// Options given with a value that does not fit their type or choices (row names).
    pub invalid: BTreeSet<&'static str>,
    /// The text of every option as given (last value wins), by row name; validation checks
    /// numbers on it the way fence-agents does (Python's `int()`).
    pub raw: BTreeMap<&'static str, String>,
    /// `nodename` from stdin (Pacemaker's target), for the events; no option uses it.
    pub nodename: Option<String>,
    /// How the options were given, so that messages name them the same way.
    pub spelling: Spelling,
}

/// How the options were given: messages that name an option to set name it the same way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// On the command line: `--ssl-ca-file=FILE`.
    #[default]
    Flags,
    /// On stdin, as Pacemaker gives them: `ssl_ca_file=FILE`.
    Stdin,
}

impl Spelling {
    /// `option` set to `value`, spelt this way (`option` by its canonical name). An empty
    /// `value` sets a boolean: `--lanplus` on a command line, `lanplus=1` on stdin.
    pub(crate) fn setting(self, option: &str, value: &str) -> String {
        match (self, value) {
            (Spelling::Flags, "") => format!("--{}", option.replace('_', "-")),
            (Spelling::Flags, _) => format!("--{}={value}", option.replace('_', "-")),
            (Spelling::Stdin, "") => format!("{option}=1"),
            (Spelling::Stdin, _) => format!("{option}={value}"),
        }
    }
}

impl Input {
    fn new(table: ParamTable) -> Self {
        Input {
            options: Options::new(table),
            invalid: BTreeSet::new(),
            raw: BTreeMap::new(),
            nodename: None,
            spelling: Spelling::Flags,
        }
    }

    /// Stores a value for `row`; a value that does not fit is kept aside for validation.
    fn store(&mut self, row: &ParamSpec, value: &str) {
        self.raw.insert(row.name, value.to_owned());
        match self.options.set(row.name, value) {
            Ok(()) => {
                self.invalid.remove(row.name);
            }
            Err(_) => {
                self.options.unset(row.name);
                self.invalid.insert(row.name);
            }
        }
    }

    /// True when the option was given, valid or not.
    pub(crate) fn given(&self, name: &str) -> bool {
        self.options.is_set(name) || self.invalid.contains(name)
    }

    /// fence-agents' `--port-as-ip`: the plug is the device's address.
    fn apply_port_as_ip(&mut self, agent: &Agent) {
        if agent.port_as_ip() && self.options.flag("port_as_ip") {
            if let Some(plug) = self.options.non_empty("plug").map(str::to_owned) {
                let _ = self.options.set("ip", &plug);
            }
        }
    }
}

/// Parses stdin text (fence-agents' `_parse_input_stdin`). Warnings go to stderr in the
/// format fence-agents has before its logging is set up.
pub(crate) fn parse_stdin(agent: &Agent, table: ParamTable, text: &str) -> Input {
    let mut input = Input::new(table.clone());
    input.spelling = Spelling::Stdin;
    for raw in text.split('\n') {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once('=').unwrap_or((line, ""));
        let value = if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
            &value[1..value.len() - 1]
        } else {
            value
        };
        let Some(row) = table.resolve(name) else {
            if name == "nodename" {
                input.nodename = Some(value.to_owned());
            } else {
                // fence-agents echoes the whole line; a mistyped secret's value is hidden.
                let lower = name.to_ascii_lowercase();
                let shown = if ["pas", "pw", "kg", "token", "secret", "key", "cred"]
                    .iter()
                    .any(|w| lower.contains(w))
                {
                    format!("{name}={}", crate::logging::REDACTED)
                } else {
                    line.to_owned()
                };
                early_echo(
                    "WARNING",
                    "Parse error: Ignoring unknown option '",
                    &shown,
                    "'\n",
                );
            }
            continue;
        };
        if row.ty == ParamType::Boolean {
            match parse_bool(value) {
                Some(b) => input.store(row, if b { "1" } else { "0" }),
                None => early(
                    "WARNING",
                    &format!(
                        "Parse error: Ignoring option '{}' because it does not have value\n",
                        row.deprecated_name.unwrap_or(row.name)
                    ),
                ),
            }
        } else {
            input.store(row, value);
        }
    }
    if !input.given("verbose_level") {
        let level = if input.options.flag("verbose") {
            "1"
        } else {
            "0"
        };
        let _ = input.options.set("verbose_level", level);
    }
    input.apply_port_as_ip(agent);
    input
}

/// One option found by getopt: its row and its value (`""` for flags).
type Found<'t> = (&'t ParamSpec, String);

/// Python's `getopt.gnu_getopt` over the table's short letters and long names.
fn gnu_getopt<'t>(
    table: &'t ParamTable,
    args: &[String],
) -> Result<(Vec<Found<'t>>, Vec<String>), ParseFailure> {
    let mut found = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let row = match_long(table, name)?;
            let value = if row.ty.takes_value() {
                match inline {
                    Some(v) => v,
                    None => {
                        let Some(v) = args.get(i) else {
                            return Err(ParseFailure(format!(
                                "option --{} requires argument",
                                row.long
                            )));
                        };
                        i += 1;
                        v.clone()
                    }
                }
            } else {
                if inline.is_some() {
                    return Err(ParseFailure(format!(
                        "option --{} must not have an argument",
                        row.long
                    )));
                }
                String::new()
            };
            found.push((row, value));
        } else if arg.len() > 1 && arg.starts_with('-') {
            let letters: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < letters.len() {
                let c = letters[j];
                j += 1;
                let Some(row) = table.by_short(c) else {
                    return Err(ParseFailure(format!("option -{c} not recognized")));
                };
                if row.ty.takes_value() {
                    let rest: String = letters[j..].iter().collect();
                    let value = if rest.is_empty() {
                        let Some(v) = args.get(i) else {
                            return Err(ParseFailure(format!("option -{c} requires argument")));
                        };
                        i += 1;
                        v.clone()
                    } else {
                        rest
                    };
                    found.push((row, value));
                    break;
                }
                found.push((row, String::new()));
            }
        } else {
            operands.push(arg.clone());
        }
    }
    Ok((found, operands))
}

/// Python getopt's long-name matching: exact, else a unique prefix.
fn match_long<'t>(table: &'t ParamTable, name: &str) -> Result<&'t ParamSpec, ParseFailure> {
    if let Some(row) = table.by_long(name) {
        return Ok(row);
    }
    let candidates: Vec<&ParamSpec> = table
        .rows()
        .iter()
        .filter(|r| r.long.starts_with(name))
        .collect();
    match candidates.as_slice() {
        [] => Err(ParseFailure(format!("option --{name} not recognized"))),
        [one] => Ok(one),
        _ => Err(ParseFailure(format!("option --{name} not a unique prefix"))),
    }
}

/// Parses the command line (fence-agents' `_parse_input_cmdline`).
pub(crate) fn parse_args(
    agent: &Agent,
    table: ParamTable,
    args: &[String],
) -> Result<Input, ParseFailure> {
    let mut input = Input::new(table.clone());
    let (found, operands) =
        gnu_getopt(&table, args).map_err(|e| ParseFailure(format!("Parse error: {}", e.0)))?;
    if !operands.is_empty() {
        let list: Vec<String> = operands.iter().map(|o| format!("'{o}'")).collect();
        early_echo(
            "WARNING",
            "Unused arguments on command line: [",
            &list.join(", "),
            "]",
        );
    }
    let mut verbose_count = 0u32;
    for (row, value) in found {
        if row.name == "verbose" {
            verbose_count += 1;
        }
        input.store(row, &value);
    }
    if !input.given("verbose_level") {
        let _ = input
            .options
            .set("verbose_level", &verbose_count.to_string());
    }
    if agent.port_as_ip() && input.given("plug") && !input.given("port_as_ip") {
        return Err(ParseFailure(
            "Parser error: option -n/--plug is not recognized".to_owned(),
        ));
    }
    input.apply_port_as_ip(agent);
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: &str) -> Agent {
        Agent::by_name(name).unwrap()
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn stdin_rules() {
        let a = agent("fence_vbox");
        let text = "  # comment\n\naction=STATUS\r\nipaddr=10.0.0.1\nip=\"10.0.0.2\"\n\
                    login=admin\npassword=a=b\nport=vm1\npower-timeout=7\nnodename=n1\n\
                    ssl_insecure=maybe\nverbose=yes\n";
        let input = parse_stdin(&a, a.table(), text);
        let o = &input.options;
        assert_eq!(o.get("action"), Some("STATUS"));
        assert_eq!(o.get("ip"), Some("10.0.0.2"));
        assert_eq!(o.get("username"), Some("admin"));
        assert_eq!(o.get("password"), Some("a=b"));
        assert_eq!(o.get("plug"), Some("vm1"));
        assert_eq!(o.get("power_timeout"), Some("7"));
        assert!(o.flag("verbose"));
        assert_eq!(o.get("verbose_level"), Some("1"));
    }

    #[test]
    fn invalid_values_are_kept_for_validation_and_last_wins() {
        let a = agent("fence_ipmilan");
        let input = parse_stdin(&a, a.table(), "power_wait=soon\nmethod=sideways\n");
        assert!(input.invalid.contains("power_wait"));
        assert!(input.invalid.contains("method"));
        let input = parse_stdin(&a, a.table(), "power_wait=soon\npower_wait=3\n");
        assert!(input.invalid.is_empty());
        assert_eq!(input.options.get("power_wait"), Some("3"));
    }

    #[test]
    fn getopt_forms() {
        let a = agent("fence_ipmilan");
        let input = parse_args(
            &a,
            a.table(),
            &args(&[
                "-o",
                "status",
                "-a10.0.0.1",
                "--username=admin",
                "--password",
                "pw",
                "-vvP",
                "--power-tim=9",
                "--lanplus",
            ]),
        )
        .unwrap();
        let o = &input.options;
        assert_eq!(o.get("action"), Some("status"));
        assert_eq!(o.get("ip"), Some("10.0.0.1"));
        assert_eq!(o.get("username"), Some("admin"));
        assert_eq!(o.get("password"), Some("pw"));
        assert_eq!(o.get("verbose_level"), Some("2"));
        assert!(o.flag("lanplus"));
        assert_eq!(o.get("power_timeout"), Some("9"));
    }

    #[test]
    fn getopt_errors_match_python() {
        let a = agent("fence_ipmilan");
        let t = a.table();
        let err = |list: &[&str]| parse_args(&a, t.clone(), &args(list)).unwrap_err().0;
        assert_eq!(
            err(&["--bogus"]),
            "Parse error: option --bogus not recognized"
        );
        assert_eq!(err(&["-Z"]), "Parse error: option -Z not recognized");
        assert_eq!(err(&["-o"]), "Parse error: option -o requires argument");
        assert_eq!(
            err(&["--action"]),
            "Parse error: option --action requires argument"
        );
        assert_eq!(
            err(&["--lanplus=1"]),
            "Parse error: option --lanplus must not have an argument"
        );
        assert_eq!(err(&["--p"]), "Parse error: option --p not a unique prefix");
        assert_eq!(
            err(&["-n", "1", "-o", "status"]),
            "Parser error: option -n/--plug is not recognized"
        );
        let ok = parse_args(&a, t, &args(&["--port-as-ip", "-n", "10.1.1.1"])).unwrap();
        assert_eq!(ok.options.get("ip"), Some("10.1.1.1"));
    }
}
