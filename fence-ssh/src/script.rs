//! Remote command lines whose completion is proven in band.
//!
//! An SSH server that closes a channel without an exit status makes libssh2 report status
//! 0, and a connection cut short leaves output that looks complete: an empty `list vms`
//! would read "no such VM". So every command runs inside a [`Script`] that prints, after
//! each step, a marker line with a per-device random tag and the step's exit status, on
//! standard output (`<tag>-<i> <status>`) and on standard error (`<tag>-<i>`). A step
//! counts only when both of its markers arrived; its output is what came before them.
//! The tag is random per device, so a VM name cannot forge a marker.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use crate::session::Output;

/// The shell that runs a script on the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Shell {
    /// A POSIX shell (Linux, macOS, the BSDs).
    #[default]
    Posix,
    /// Windows' `cmd.exe`, OpenSSH for Windows' default shell.
    Cmd,
}

impl Shell {
    /// `arg` quoted for this shell ([`crate::quote`]).
    pub fn quote(self, arg: &str) -> fence_core::Result<String> {
        match self {
            Shell::Posix => crate::quote::posix(arg),
            Shell::Cmd => crate::quote::windows(arg),
        }
    }
}

/// One or more commands run on one SSH channel, each followed by its completion markers.
#[derive(Clone, Debug)]
pub struct Script {
    tag: String,
    os: Shell,
    steps: Vec<String>,
    bounds: usize,
}

/// What one step of a script did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepOutput {
    /// The step's exit status (on Windows hosts only 0 or 1).
    pub status: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// A random tag for one device's scripts: `fence-rs-done-` and 16 hex digits.
pub fn random_tag() -> String {
    // RandomState is seeded from the operating system's random source.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    format!("fence-rs-done-{:016x}", h.finish())
}

impl Script {
    /// An empty script for a host whose shell is `os`, marked with `tag` ([`random_tag`]).
    pub fn new(tag: &str, os: Shell) -> Script {
        Script {
            tag: tag.to_owned(),
            os,
            steps: Vec::new(),
            bounds: 1,
        }
    }

    /// The script, bounded by `n` times `shell_timeout` instead of once (a batch of `n`
    /// commands, such as `showvminfo` per VM).
    pub fn bounded_by(mut self, n: usize) -> Script {
        self.bounds = n.max(1);
        self
    }

    /// How many `shell_timeout`s bound the whole script (1 unless [`Script::bounded_by`]).
    pub fn bounds(&self) -> usize {
        self.bounds
    }

    /// The script with one more command.
    pub fn step(mut self, command: impl Into<String>) -> Script {
        self.steps.push(command.into());
        self
    }

    /// The commands, for messages and logs (without the markers).
    pub fn summary(&self) -> String {
        self.steps.join("; ")
    }

    fn marker(&self, i: usize) -> String {
        format!("{}-{i}", self.tag)
    }

    /// The command line sent to the host's shell.
    pub fn render(&self) -> String {
        let parts: Vec<String> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, cmd)| {
                let m = self.marker(i);
                match self.os {
                    // The marker starts a line of its own whatever the command printed last.
                    Shell::Posix => format!(
                        "{cmd}; printf '\\n%s %s\\n' {m} \"$?\"; printf '\\n%s \\n' {m} >&2"
                    ),
                    // cmd.exe: `%errorlevel%` would expand before the command runs, so the
                    // status is told by && / || (0 or 1).
                    Shell::Cmd => {
                        format!("{cmd} && echo {m} 0 || echo {m} 1 & echo {m} 1>&2")
                    }
                }
            })
            .collect();
        match self.os {
            Shell::Posix => parts.join("; "),
            Shell::Cmd => parts.join(" & "),
        }
    }

    /// Splits a channel's output into its steps; `Err` says what is missing when the
    /// output is incomplete.
    pub fn split(&self, out: &Output) -> Result<Vec<StepOutput>, String> {
        let mut stdout = out.stdout.as_str();
        let mut stderr = out.stderr.as_str();
        let mut steps = Vec::with_capacity(self.steps.len());
        for i in 0..self.steps.len() {
            let m = format!("{} ", self.marker(i));
            let (body, status_line, rest) = cut_at_marker(stdout, &m).ok_or_else(|| {
                format!(
                    "no end marker of command {} of {} on standard output",
                    i + 1,
                    self.steps.len()
                )
            })?;
            let status = status_line
                .trim()
                .parse::<i32>()
                .map_err(|_| format!("the end marker of command {} has no exit status", i + 1))?;
            stdout = rest;
            let (err_body, _, err_rest) = cut_at_marker(stderr, &m).ok_or_else(|| {
                format!(
                    "no end marker of command {} of {} on standard error",
                    i + 1,
                    self.steps.len()
                )
            })?;
            stderr = err_rest;
            steps.push(StepOutput {
                status,
                stdout: body.to_owned(),
                stderr: err_body.to_owned(),
            });
        }
        Ok(steps)
    }
}

/// Finds `marker` at the start of a line: returns the text before it (without the line
/// break that precedes the marker), the rest of the marker's line (which must end with a
/// line break), and the text after that line.
fn cut_at_marker<'a>(text: &'a str, marker: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let start = if text.starts_with(marker) {
        0
    } else {
        text.find(&format!("\n{marker}"))? + 1
    };
    let body = &text[..start];
    let body = body.strip_suffix('\n').unwrap_or(body);
    let after = &text[start + marker.len()..];
    let (line, rest) = after.split_once('\n')?;
    Some((body, line, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(stdout: &str, stderr: &str) -> Output {
        Output {
            status: 0,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    fn script() -> Script {
        Script::new("T", Shell::Posix)
            .step("VBoxManage list vms")
            .step("VBoxManage list runningvms")
    }

    /// Runs the rendered script with sh, with `VBoxManage` replaced by a function.
    fn run_sh(script: &Script, function: &str) -> Output {
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{function}\n{}", script.render()))
            .output()
            .unwrap();
        out(
            &String::from_utf8_lossy(&o.stdout),
            &String::from_utf8_lossy(&o.stderr),
        )
    }

    #[test]
    fn posix_script_reports_each_step_through_a_real_shell() {
        let s = script();
        let o = run_sh(
            &s,
            r#"VBoxManage() { if [ "$2" = vms ]; then echo '"a" {1}'; printf 'no newline'; else echo oops >&2; return 3; fi; }"#,
        );
        let steps = s.split(&o).unwrap();
        assert_eq!(
            steps,
            [
                StepOutput {
                    status: 0,
                    stdout: "\"a\" {1}\nno newline".into(),
                    stderr: String::new(),
                },
                StepOutput {
                    status: 3,
                    stdout: String::new(),
                    stderr: "oops\n".into(),
                },
            ]
        );
    }

    #[test]
    fn a_cut_short_output_is_incomplete() {
        let s = script();
        let o = run_sh(&s, r#"VBoxManage() { echo '"a" {1}'; }"#);
        assert!(s.split(&o).is_ok());
        // Every cut of the output before the last marker's line ends is refused.
        for cut in 0..o.stdout.len() {
            let short = out(&o.stdout[..cut], &o.stderr);
            assert!(s.split(&short).is_err(), "cut at {cut}: {:?}", short.stdout);
        }
        for cut in 0..o.stderr.len() {
            let short = out(&o.stdout, &o.stderr[..cut]);
            assert!(s.split(&short).is_err(), "stderr cut at {cut}");
        }
        // Nothing at all, as from a channel closed without output or exit status.
        assert!(s.split(&out("", "")).is_err());
    }

    #[test]
    fn a_marker_needs_the_exact_tag_and_step() {
        let s = Script::new("T", Shell::Posix).step("a");
        assert!(s.split(&out("T-1 0\n", "\nT-0 \n")).is_err());
        assert!(s.split(&out("xT-0 0\n", "\nT-0 \n")).is_err());
        assert!(s.split(&out("T-0 x\n", "\nT-0 \n")).is_err());
        assert!(s.split(&out("T-0 0", "\nT-0 \n")).is_err(), "unterminated");
        assert_eq!(s.split(&out("\nT-0 0\n", "\nT-0 \n")).unwrap()[0].status, 0);
        assert_ne!(random_tag(), "fence-rs-done-0000000000000000");
    }

    #[test]
    fn windows_script_uses_cmd_exe_operators() {
        let s = Script::new("T", Shell::Cmd).step("a").step("b");
        assert_eq!(
            s.render(),
            "a && echo T-0 0 || echo T-0 1 & echo T-0 1>&2 & b && echo T-1 0 || echo T-1 1 & echo T-1 1>&2"
        );
        // What cmd.exe prints: echo keeps the space before the operator, lines end in CRLF.
        let o = out("x\r\nT-0 0 \r\nT-1 1 \r\n", "T-0 \r\nerr\r\nT-1 \r\n");
        let steps = s.split(&o).unwrap();
        assert_eq!(steps[0].status, 0);
        assert_eq!(steps[0].stdout, "x\r");
        assert_eq!(steps[1].status, 1);
        assert_eq!(steps[1].stderr, "err\r");
    }
}
