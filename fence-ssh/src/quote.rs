//! Quoting of command arguments for the VirtualBox host's shell.
//!
//! An SSH exec request carries one command string, which the host's login shell parses.
//! Every argument that is not a fixed word of ours goes through one of these functions, so
//! it reaches `VBoxManage` as data:
//!
//! - [`posix`] for Linux and macOS hosts (any POSIX shell: sh, bash, dash, ksh, zsh): the
//!   argument in single quotes, each `'` written as `'\''`. Inside single quotes nothing
//!   is special, not even a newline.
//! - [`windows`] for Windows hosts whose OpenSSH shell is `cmd.exe` (the default): first
//!   the quoting that `CommandLineToArgvW` and the Microsoft C runtime undo (the argument in
//!   double quotes, `"` as `\"`, backslashes doubled where they precede a quote), then
//!   every `cmd.exe` metacharacter, the quotes included, prefixed with `^`, so `cmd.exe`
//!   never enters a quoted region, strips the carets and passes the rest on unchanged.
//!   `%NAME%` cannot be expanded because `cmd.exe` reads `%NAME^%` as an undefined
//!   variable and leaves it. Line breaks and NUL cannot be passed through `cmd.exe` at
//!   all: such arguments are refused.
//!
//! Both refuse NUL, which no shell can receive.

use fence_core::{Error, Result};

/// Characters that need no quoting for a POSIX shell (and are not `=`, so a first word is
/// never taken for an assignment).
fn posix_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '+' | ',' | '@')
}

/// Quotes `arg` for a POSIX shell. Refuses NUL.
pub fn posix(arg: &str) -> Result<String> {
    if arg.contains('\0') {
        return Err(Error::invalid_input(
            "an argument for the host's shell contains a NUL character",
        ));
    }
    if !arg.is_empty() && arg.chars().all(posix_plain) {
        return Ok(arg.to_owned());
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    Ok(out)
}

/// Characters `cmd.exe` treats specially outside double quotes.
fn cmd_meta(c: char) -> bool {
    matches!(c, '(' | ')' | '%' | '!' | '^' | '"' | '<' | '>' | '&' | '|')
}

/// Characters that need no quoting for `cmd.exe` and `CommandLineToArgvW`.
fn windows_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '\\' | ':' | '+' | ',' | '@')
}

/// Quotes `arg` for `cmd.exe` followed by `CommandLineToArgvW`. Refuses NUL, CR and LF.
pub fn windows(arg: &str) -> Result<String> {
    if arg.contains(['\0', '\r', '\n']) {
        return Err(Error::invalid_input(
            "an argument for a Windows host contains a line break or NUL, which cmd.exe cannot pass on",
        ));
    }
    if !arg.is_empty() && arg.chars().all(windows_plain) {
        return Ok(arg.to_owned());
    }
    // Step 1: the C runtime's argv quoting.
    let mut argv = String::with_capacity(arg.len() + 2);
    argv.push('"');
    let mut backslashes = 0usize;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                argv.extend(std::iter::repeat_n('\\', 2 * backslashes + 1));
                argv.push('"');
                backslashes = 0;
            }
            _ => {
                argv.extend(std::iter::repeat_n('\\', backslashes));
                argv.push(c);
                backslashes = 0;
            }
        }
    }
    argv.extend(std::iter::repeat_n('\\', 2 * backslashes));
    argv.push('"');
    // Step 2: cmd.exe's caret escapes, on every metacharacter including the quotes.
    let mut out = String::with_capacity(argv.len() * 2);
    for c in argv.chars() {
        if cmd_meta(c) {
            out.push('^');
        }
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "vm1",
        "vm with space",
        "it's",
        "a';touch /tmp/pwned;'",
        "x$(touch /tmp/pwned)",
        "`id`",
        "a;b",
        "a & b | c",
        "a && b || c > d < e",
        "\"double\" quotes",
        "back\\slash\\",
        "trailing backslash \\",
        "\\\"",
        "%PATH% and !PATH! and ^caret^",
        "(parens) [brackets] {braces} *glob? ~tilde #hash",
        "",
        " ",
        "-dash",
        "ünïcödé ☃",
        "tab\there",
        "$HOME ${HOME} $'x'",
    ];

    /// A POSIX shell's word splitting and quote removal for what `posix` produces: single
    /// quotes, backslash outside quotes, and plain characters. Any other shell
    /// metacharacter outside quotes means the shell would interpret it.
    fn posix_shell_words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\'' => {
                    in_word = true;
                    loop {
                        match chars.next() {
                            Some('\'') => break,
                            Some(x) => cur.push(x),
                            None => panic!("unterminated single quote in {line:?}"),
                        }
                    }
                }
                '\\' => {
                    in_word = true;
                    cur.push(chars.next().expect("backslash at end"));
                }
                ' ' => {
                    if in_word {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                }
                c if posix_plain(c) => {
                    in_word = true;
                    cur.push(c);
                }
                c => panic!("unquoted shell metacharacter {c:?} in {line:?}"),
            }
        }
        if in_word {
            words.push(cur);
        }
        words
    }

    #[test]
    fn posix_round_trips_through_a_shell_parser() {
        for arg in HOSTILE.iter().copied().chain(["new\nline", "cr\rlf\n"]) {
            let q = posix(arg).unwrap();
            let line = format!("VBoxManage startvm {q} --type headless");
            assert_eq!(
                posix_shell_words(&line),
                vec!["VBoxManage", "startvm", arg, "--type", "headless"],
                "{arg:?} quoted as {q}"
            );
        }
    }

    #[test]
    fn posix_examples() {
        assert_eq!(posix("vm1").unwrap(), "vm1");
        assert_eq!(posix("").unwrap(), "''");
        assert_eq!(posix("vm with space").unwrap(), "'vm with space'");
        assert_eq!(posix("it's").unwrap(), r"'it'\''s'");
        assert_eq!(posix("x$(touch y)").unwrap(), "'x$(touch y)'");
        assert_eq!(posix("a=b").unwrap(), "'a=b'", "never an assignment");
        assert!(posix("nul\0").is_err());
    }

    /// cmd.exe's line processing for what `windows` produces: `%VAR%` expansion of defined
    /// variables, then carets and quotes; any unescaped `& | < > ( )` outside quotes is a
    /// command separator or redirection, which must never happen.
    fn cmd_exe(line: &str) -> String {
        // Percent phase: only PATH is defined; undefined %NAME% stays as it is.
        let mut expanded = String::new();
        let mut rest = line;
        while let Some(start) = rest.find('%') {
            expanded.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            match after.find('%') {
                Some(end) if &after[..end] == "PATH" => {
                    expanded.push_str("C:\\Windows");
                    rest = &after[end + 1..];
                }
                Some(end) => {
                    expanded.push('%');
                    expanded.push_str(&after[..end]);
                    rest = &after[end..];
                }
                None => {
                    expanded.push('%');
                    rest = after;
                }
            }
        }
        expanded.push_str(rest);
        // Caret and quote phase.
        let mut out = String::new();
        let mut quoted = false;
        let mut chars = expanded.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    quoted = !quoted;
                    out.push(c);
                }
                '^' if !quoted => out.push(chars.next().expect("caret at end")),
                '&' | '|' | '<' | '>' | '(' | ')' if !quoted => {
                    panic!("cmd.exe would interpret {c:?} in {line:?}")
                }
                _ => out.push(c),
            }
        }
        out
    }

    /// `CommandLineToArgvW` (and the Microsoft C runtime since 2008).
    fn command_line_to_argv(line: &str) -> Vec<String> {
        let chars: Vec<char> = line.chars().collect();
        let mut args = Vec::new();
        let mut i = 0;
        loop {
            while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
                i += 1;
            }
            if i >= chars.len() {
                break;
            }
            let mut arg = String::new();
            let mut quoted = false;
            while i < chars.len() {
                let c = chars[i];
                if c == '\\' {
                    let mut n = 0;
                    while i < chars.len() && chars[i] == '\\' {
                        n += 1;
                        i += 1;
                    }
                    if i < chars.len() && chars[i] == '"' {
                        arg.extend(std::iter::repeat_n('\\', n / 2));
                        if n % 2 == 1 {
                            arg.push('"');
                            i += 1;
                        }
                    } else {
                        arg.extend(std::iter::repeat_n('\\', n));
                    }
                } else if c == '"' {
                    if quoted && i + 1 < chars.len() && chars[i + 1] == '"' {
                        arg.push('"');
                        i += 2;
                    } else {
                        quoted = !quoted;
                        i += 1;
                    }
                } else if (c == ' ' || c == '\t') && !quoted {
                    break;
                } else {
                    arg.push(c);
                    i += 1;
                }
            }
            args.push(arg);
        }
        args
    }

    #[test]
    fn windows_round_trips_through_cmd_and_command_line_to_argv() {
        for arg in HOSTILE {
            let q = windows(arg).unwrap();
            let path = windows("/Program Files/Oracle/VirtualBox/VBoxManage.exe").unwrap();
            let line = format!("{path} startvm {q} --type headless");
            let argv = command_line_to_argv(&cmd_exe(&line));
            assert_eq!(
                argv,
                vec![
                    "/Program Files/Oracle/VirtualBox/VBoxManage.exe",
                    "startvm",
                    arg,
                    "--type",
                    "headless"
                ],
                "{arg:?} quoted as {q}"
            );
        }
    }

    #[test]
    fn windows_examples_and_refusals() {
        assert_eq!(windows("vm1").unwrap(), "vm1");
        assert_eq!(windows("a b").unwrap(), "^\"a b^\"");
        assert_eq!(windows("a&b").unwrap(), "^\"a^&b^\"");
        assert_eq!(windows(r#"say "hi""#).unwrap(), r#"^"say \^"hi\^"^""#);
        assert_eq!(windows("%PATH%").unwrap(), "^\"^%PATH^%^\"");
        for bad in ["new\nline", "cr\r", "nul\0"] {
            assert!(windows(bad).is_err(), "{bad:?}");
        }
    }
}
