//! Metadata XML (`-o metadata`, `-o manpage`) and `--help`, rendered from the parameter
//! table in fence-agents' exact layout (fence-agents-protocol.md 2.1-2.3).
//!
//! Each row becomes one `<parameter>`; a row with a deprecated name becomes two: the old
//! name with `deprecated="1"` and the new one with `obsoletes="<old>"`. Parameters sort by
//! (order, name) in code-point order. Only `mixed` and `default` are entity-encoded by
//! fence-agents; text content is printed as is, except that `&`, `<` and `>` are encoded
//! so that the output is always well-formed XML.

use std::fmt::Write as _;

use fence_core::Action;
use fence_core::params::{ParamSpec, ParamTable, ParamType, Usage};

use crate::agents::{Agent, Docs};

/// fence-agents' `_encode_html_entities`.
fn encode_attr(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}

/// Text content: raw as fence-agents prints it, but never ill-formed.
fn encode_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Attribute values fence-agents prints raw (`name`, `shortdesc`): raw unless that would
/// break the XML.
fn raw_attr(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// The description of a row as metadata shows it; unused options say so.
pub(crate) fn shortdesc(row: &ParamSpec) -> String {
    match row.usage {
        Usage::Used => row.shortdesc.to_owned(),
        Usage::Unused(why) => format!(
            "{} (accepted for compatibility, not used by fence-rs: {why})",
            row.shortdesc
        ),
    }
}

/// fence-agents strips troff markup from longdesc for `metadata` (not for `manpage`).
fn strip_troff(text: &str) -> String {
    let mut out = text.to_owned();
    for pat in ["\\fB", "\\fI", "\\fP", "\\fR", ".TP", ".br\n", ".P"] {
        out = out.replace(pat, "");
    }
    out
}

/// One `<parameter>` of metadata: (name, extra attribute, row).
pub(crate) fn entries(table: &ParamTable) -> Vec<(String, String, &ParamSpec)> {
    let mut list = Vec::new();
    for row in table.rows() {
        match row.deprecated_name {
            Some(old) => {
                list.push((old.to_owned(), " deprecated=\"1\"".to_owned(), row));
                list.push((row.name.to_owned(), format!(" obsoletes=\"{old}\""), row));
            }
            None => list.push((row.name.to_owned(), String::new(), row)),
        }
    }
    list.sort_by(|a, b| (a.2.order, a.0.as_str()).cmp(&(b.2.order, b.0.as_str())));
    list
}

/// The metadata XML of `agent` invoked as `invoked`; `manpage` keeps troff markup.
pub(crate) fn render(agent: &Agent, invoked: &str, manpage: bool) -> String {
    let table = agent.table();
    let docs: Docs = agent.docs(invoked);
    let longdesc = if manpage {
        docs.longdesc.clone()
    } else {
        strip_troff(&docs.longdesc)
    };
    let mut x = String::with_capacity(16 * 1024);
    x.push_str("<?xml version=\"1.0\" ?>\n");
    let _ = writeln!(
        x,
        "<resource-agent name=\"{}\" shortdesc=\"{}\" >",
        raw_attr(invoked),
        raw_attr(docs.shortdesc)
    );
    for (name, desc) in &docs.symlinks {
        let _ = writeln!(
            x,
            "<symlink name=\"{}\" shortdesc=\"{}\"/>",
            raw_attr(name),
            raw_attr(desc)
        );
    }
    let _ = writeln!(x, "<longdesc>{}</longdesc>", encode_text(&longdesc));
    let _ = writeln!(
        x,
        "<vendor-url>{}</vendor-url>",
        encode_text(docs.vendor_url)
    );
    x.push_str("<parameters>\n");
    for (name, extra, row) in entries(&table) {
        let _ = writeln!(
            x,
            "\t<parameter name=\"{}\" unique=\"0\" required=\"{}\"{extra}>",
            raw_attr(&name),
            u8::from(row.required)
        );
        let _ = writeln!(x, "\t\t<getopt mixed=\"{}\" />", encode_attr(&row.mixed()));
        let default = row
            .default
            .map(|d| format!("default=\"{}\" ", encode_attr(d)))
            .unwrap_or_default();
        match row.ty {
            ParamType::Select(choices) => {
                let _ = writeln!(x, "\t\t<content type=\"select\" {default} >");
                for c in choices {
                    let _ = writeln!(x, "\t\t\t<option value=\"{}\" />", encode_attr(c));
                }
                x.push_str("\t\t</content>\n");
            }
            ty => {
                let _ = writeln!(
                    x,
                    "\t\t<content type=\"{}\" {default} />",
                    ty.content_type()
                );
            }
        }
        let _ = writeln!(
            x,
            "\t\t<shortdesc lang=\"en\">{}</shortdesc>",
            encode_text(&shortdesc(row))
        );
        x.push_str("\t</parameter>\n");
    }
    x.push_str("</parameters>\n<actions>\n");
    for action in agent.advertised_actions() {
        if action == Action::On {
            x.push_str("\t<action name=\"on\" automatic=\"0\"/>\n");
        } else {
            let _ = writeln!(x, "\t<action name=\"{action}\" />");
        }
    }
    x.push_str("</actions>\n</resource-agent>\n");
    x
}

/// The widest line of `--help`: 80 columns (fence-agents' `_join_wrap` uses 85, which
/// overflows an 80-column terminal).
pub(crate) const HELP_WIDTH: usize = 80;

/// Python's `textwrap` as fence-agents' `_join_wrap` uses it, at [`HELP_WIDTH`]: first
/// line indented by `first`, the others by 40 spaces, breaking only at spaces.
fn wrap(text: &str, first: usize) -> String {
    // Chunks of spaces and of non-spaces, as textwrap splits them (whitespace becomes
    // spaces first).
    let text: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let mut chunks: Vec<&str> = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for i in 1..=bytes.len() {
        if i == bytes.len() || (bytes[i] == b' ') != (bytes[i - 1] == b' ') {
            chunks.push(&text[start..i]);
            start = i;
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chunks.len() {
        let indent = if lines.is_empty() { first } else { 40 };
        let width = HELP_WIDTH - indent;
        if !lines.is_empty() && chunks[i].starts_with(' ') {
            i += 1;
            continue;
        }
        let mut line: Vec<&str> = Vec::new();
        let mut len = 0;
        while i < chunks.len() && len + chunks[i].len() <= width {
            len += chunks[i].len();
            line.push(chunks[i]);
            i += 1;
        }
        if line.is_empty() && i < chunks.len() {
            // A word longer than the line: textwrap keeps it whole.
            line.push(chunks[i]);
            i += 1;
        }
        if line.last().is_some_and(|c| c.starts_with(' ')) {
            line.pop();
        }
        lines.push(format!("{}{}", " ".repeat(indent), line.concat()));
    }
    lines.join("\n").trim_start().to_owned()
}

/// The help line of a row: `mixed` padded to column 31, then the description.
fn help_text(row: &ParamSpec, agent: &Agent) -> String {
    let desc = match row.name {
        "action" => {
            let actions: Vec<String> = agent
                .advertised_actions()
                .iter()
                .map(|a| {
                    if *a == Action::Reboot {
                        "reboot (default)".to_owned()
                    } else {
                        a.to_string()
                    }
                })
                .collect();
            let (last, init) = actions
                .split_last()
                .map_or(("", &[][..]), |(l, i)| (l.as_str(), i));
            format!("Action: {} or {last}", init.join(", "))
        }
        _ => {
            let mut d = shortdesc(row);
            if let Some(def) = row
                .default
                .filter(|d| !d.is_empty() && row.name != "action")
            {
                let _ = write!(d, " (default {def})");
            }
            if let ParamType::Select(choices) = row.ty {
                let _ = write!(d, " ({})", choices.join("|"));
            }
            d
        }
    };
    let mixed = row.mixed();
    if mixed.len() >= 31 {
        format!("{mixed}   {desc}")
    } else {
        format!("{mixed:<31}{desc}")
    }
}

/// `--help`: fence-agents' usage layout, from the table.
pub(crate) fn usage(agent: &Agent, invoked: &str) -> String {
    let table = agent.table();
    let mut rows: Vec<&ParamSpec> = table.rows().iter().collect();
    rows.sort_by_key(|r| r.order);
    let mut out = format!("Usage:\n\t{invoked} [options]\nOptions:\n");
    for row in rows {
        let _ = writeln!(out, "   {}", wrap(&help_text(row, agent), 3));
    }
    out.push('\n');
    out.push_str(&wrap_paragraph(TIMEOUTS, HELP_WIDTH));
    out.push('\n');
    out
}

/// The closing paragraph of `--help`.
const TIMEOUTS: &str = "Timeouts: power_timeout bounds the wait for the power state after a \
command (default 20 s). When run by Pacemaker (PCMK_service=pacemaker-fenced) without \
disable_timeout, that wait is unbounded as in fence-agents and Pacemaker's own action \
timeout applies; every single network request still keeps its own timeout \
(login_timeout, shell_timeout, the backend's per-request bounds), so a lost packet never \
hangs the agent.";

/// `text` broken at spaces into lines of at most `width` columns (a longer word stands
/// on a line of its own).
fn wrap_paragraph(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_matches_textwrap_layout() {
        let text = format!(
            "{:<31}{}",
            "-v, --verbose",
            "Verbose mode. Multiple -v flags can be stacked on the command line (e.g., -vvv) to increase verbosity."
        );
        let w = wrap(&text, 3);
        let lines: Vec<&str> = w.lines().collect();
        assert_eq!(
            lines[0],
            "-v, --verbose                  Verbose mode. Multiple -v flags can be stacked"
        );
        assert_eq!(
            lines[1],
            "                                        on the command line (e.g., -vvv) to"
        );
        assert_eq!(
            lines[2],
            "                                        increase verbosity."
        );
    }

    #[test]
    fn paragraphs_break_at_spaces_within_the_width() {
        let p = wrap_paragraph(TIMEOUTS, HELP_WIDTH);
        assert!(p.lines().count() > 1, "{p}");
        for line in p.lines() {
            assert!(line.len() <= HELP_WIDTH, "{line:?}");
        }
        let words: Vec<&str> = p.split_whitespace().collect();
        assert_eq!(words, TIMEOUTS.split_whitespace().collect::<Vec<_>>());
        assert_eq!(wrap_paragraph("aaaa bbbb cc", 9), "aaaa bbbb\ncc");
        assert_eq!(wrap_paragraph("aaaaaaaaaaa b", 5), "aaaaaaaaaaa\nb");
    }

    #[test]
    fn deprecated_rows_become_pairs_sorted_by_order_and_name() {
        let agent = Agent::by_name("fence_redfish").unwrap();
        let xml = render(&agent, "fence_redfish", false);
        let a = xml.find("name=\"redfish-uri\" unique=\"0\" required=\"0\" deprecated=\"1\">");
        let b =
            xml.find("name=\"redfish_uri\" unique=\"0\" required=\"0\" obsoletes=\"redfish-uri\">");
        assert!(a.is_some() && b.is_some() && a < b, "{xml}");
        assert!(xml.contains("\t\t<content type=\"integer\" default=\"443\"  />\n"));
        assert!(
            xml.contains("\t<action name=\"on\" automatic=\"0\"/>\n\t<action name=\"off\" />\n")
        );
    }
}
