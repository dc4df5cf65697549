//! `fence-agent man NAME`: the man page (section 8) of an agent, in troff (`man(7)`
//! macros), rendered from the same rows as its metadata.
//!
//! fence-agents builds its man pages from `-o manpage` through an XSL stylesheet; the
//! sections follow those pages (NAME, DESCRIPTION with the vendor URL, PARAMETERS as
//! getopt strings, ACTIONS, STDIN PARAMETERS) so that an admin reads what they know, with
//! a SYNOPSIS, EXIT STATUS and SEE ALSO added. The page names the invoked name
//! (`fence_rs_ipmilan`), as metadata does. Descriptions come from the parameter table;
//! the longdesc keeps its own troff markup (`.P` paragraphs), every other text is escaped.

use std::fmt::Write as _;

use fence_core::Action;

use crate::agents::Agent;
use crate::metadata;

/// Escapes plain text for troff: backslashes, and a line that would start a request.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    text.lines()
        .map(|line| {
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The longdesc as a paragraph body: its troff requests (`.P`) and font escapes stay,
/// lines are trimmed of trailing blanks and empty lines dropped (an empty line in troff is
/// a blank output line); a `-` in text becomes `\-`, so `-m/method` stays a minus that can
/// be copied into a shell.
fn longdesc_body(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(|l| {
            if l.starts_with('.') {
                l.to_owned()
            } else if l.starts_with('\'') {
                format!("\\&{}", l.replace('-', "\\-"))
            } else {
                l.replace('-', "\\-")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What an action does, for the ACTIONS section.
fn action_text(action: Action) -> &'static str {
    match action {
        Action::On => "Power the machine on and verify that it is on.",
        Action::Off => "Power the machine off and verify that it is off.",
        Action::Reboot => {
            "Power the machine off, verify that it is off, then power it on (or a power \
             cycle with method=cycle)."
        }
        Action::Status => "Print the power status: exit status 0 when on, 2 when off.",
        Action::List => "List the plugs (virtual machines) of the device, one per line.",
        Action::ListStatus => "List the plugs with their power status.",
        Action::Monitor => "Check that the device answers.",
        Action::Metadata => "Print the XML metadata that Pacemaker reads.",
        Action::Manpage => "Print the metadata this page is built from.",
        Action::ValidateAll => "Check the parameters without contacting the device.",
        Action::Diag => "Send a diagnostic interrupt (NMI) to the machine.",
    }
}

/// The page of `agent` under the name `invoked`; `version` goes into the footer.
pub(crate) fn render(agent: &Agent, invoked: &str, version: &str) -> String {
    let table = agent.table();
    let docs = agent.docs(invoked);
    let mut m = String::with_capacity(16 * 1024);
    let _ = writeln!(
        m,
        ".TH {} 8 \"\" \"fence-rs {}\" \"Fence Agents\"",
        escape(&invoked.to_uppercase()),
        escape(version)
    );
    let _ = writeln!(
        m,
        ".SH NAME\n{} \\- {}",
        escape(invoked),
        escape(docs.shortdesc)
    );
    let _ = writeln!(
        m,
        ".SH SYNOPSIS\n.B {name}\n[\\fIOPTIONS\\fR]\n.br\n.B {name}\n< \\fIname=value lines on stdin\\fR",
        name = escape(invoked)
    );
    m.push_str(".SH DESCRIPTION\n.P\n");
    m.push_str(&longdesc_body(&docs.longdesc));
    m.push('\n');
    if !docs.vendor_url.is_empty() {
        let _ = writeln!(m, ".P\nVendor URL: {}", escape(docs.vendor_url));
    }
    if !docs.symlinks.is_empty() {
        m.push_str(".P\nThe same agent is installed under these names:\n");
        for (name, desc) in &docs.symlinks {
            let _ = writeln!(m, ".TP\n.B {}\n{}", escape(name), escape(desc));
        }
    }
    m.push_str(".SH PARAMETERS\n");
    let entries = metadata::entries(&table);
    for (name, _, row) in &entries {
        if row.deprecated_name == Some(name.as_str()) {
            continue; // its replacement's row says "Obsoletes"
        }
        let mut text = metadata::shortdesc(row);
        if let Some(d) = row.default {
            let _ = write!(text, " (Default Value: {d})");
        }
        if row.required && row.default.is_none() {
            text.push_str(" This parameter is always required.");
        }
        let _ = writeln!(m, ".TP\n.B {}\n{}", escape(&row.mixed()), escape(&text));
    }
    m.push_str(".SH ACTIONS\n");
    for action in agent.advertised_actions() {
        let _ = writeln!(
            m,
            ".TP\n.B {}\n{}",
            escape(&action.to_string()),
            escape(action_text(action))
        );
    }
    m.push_str(".SH STDIN PARAMETERS\n");
    for (name, _, row) in &entries {
        let mut text = metadata::shortdesc(row);
        if let Some(d) = row.default {
            let _ = write!(text, " (Default Value: {d})");
        }
        if row.deprecated_name == Some(name.as_str()) {
            let _ = write!(text, " Deprecated: use {}.", row.name);
        } else if let Some(old) = row.deprecated_name {
            let _ = write!(text, " Obsoletes: {old}.");
        }
        if row.required && row.default.is_none() {
            text.push_str(" This parameter is always required.");
        }
        let _ = writeln!(m, ".TP\n.B {}\n{}", escape(name), escape(&text));
    }
    m.push_str(
        ".SH EXIT STATUS\n\
         .TP\n.B 0\nSuccess; for status, the machine is on.\n\
         .TP\n.B 1\nFailure: a \\fBFailed:\\fR line on stderr says why.\n\
         .TP\n.B 2\nFor status, the machine is off.\n",
    );
    m.push_str(
        ".SH SEE ALSO\n\
         .BR fence\\-agent (8),\n\
         .BR stonith_admin (8),\n\
         .BR pacemaker\\-fenced (7)\n",
    );
    m
}

/// The page of the multi-call binary itself, `fence-agent(8)`, from its usage text and the
/// agent names it answers to under the default prefix (`names`, in `--list-agents` order).
pub(crate) fn render_main(usage: &str, version: &str, names: &[String]) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        ".TH FENCE\\-AGENT 8 \"\" \"fence-rs {}\" \"Fence Agents\"",
        escape(version)
    );
    m.push_str(
        ".SH NAME\nfence\\-agent \\- fence agents in one binary, for Pacemaker and for people at a shell\n\
         .SH DESCRIPTION\n\
         .P\n\
         One executable answers to every agent name it is installed as, speaking the \
         ClusterLabs fence-agents protocol: options on the command line or name=value lines \
         on stdin, the same metadata, messages and exit codes. Its names:\n",
    );
    let _ = writeln!(m, ".P\n{}", escape(&names.join(", ")));
    if let Some(first) = names.first() {
        let _ = writeln!(
            m,
            ".P\nEach agent has its own page, for example\n.BR {} (8).",
            escape(first)
        );
    }
    m.push_str(".SH USAGE\n.nf\n");
    m.push_str(&escape(&usage.replace('\t', "    ")));
    m.push_str("\n.fi\n.SH SEE ALSO\n.BR stonith_admin (8),\n.BR pacemaker\\-fenced (7)\n");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_protects_requests_and_backslashes() {
        assert_eq!(escape(".TH x"), "\\&.TH x");
        assert_eq!(escape("a\\b"), "a\\eb");
        assert_eq!(escape("--ip"), "\\-\\-ip");
        assert_eq!(escape("one\n'two"), "one\n\\&'two");
    }

    #[test]
    fn longdesc_keeps_its_markup_and_drops_blank_lines() {
        assert_eq!(longdesc_body("a  \n\n.P\nb\n"), "a\n.P\nb");
        assert_eq!(longdesc_body("use -m/method\n"), "use \\-m/method");
    }
}
