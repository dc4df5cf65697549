//! Pacemaker alert agent mode: `fence-agent alert`, or the binary called through a link
//! whose name is `fence*_alert` / `fence*-alert` (`fence_rs_alert`, `fence-agent-alert`).
//!
//! Pacemaker runs an alert agent (as the `hacluster` user) for every fencing, node,
//! resource and attribute event, with the event in `CRM_alert_*` environment variables and
//! the alert's recipient in `CRM_alert_recipient`. Like Pacemaker's sample file agent, this
//! mode appends one record per alert to the file the recipient names, here as a JSON line
//! with `"source":"pacemaker"`, written with the same discipline as the agents' event log
//! ([`crate::events::append_line`]), so that one file holds what the agents did
//! (`"source":"agent"`) and what the cluster decided.
//!
//! Exit status: 0 when the line was written (or when no recipient is configured, which
//! Pacemaker requires alert agents to accept); 1 with a message on stderr otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::events::{LOCK_BOUND, append_line};

/// The default name of the link `install-alert` creates.
pub(crate) const DEFAULT_NAME: &str = "fence_rs_alert";

/// True when a program name selects alert mode: it starts with `fence` and ends with
/// `_alert` or `-alert`.
pub(crate) fn is_alert_name(program: &str) -> bool {
    program.starts_with("fence")
        && (program.ends_with("_alert") || program.ends_with("-alert"))
        && program.len() > "fence_alert".len()
}

/// One Pacemaker alert as it is written to the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct AlertRecord {
    /// Always `pacemaker`.
    pub source: &'static str,
    /// `fencing`, `node`, `resource` or `attribute` (`CRM_alert_kind`).
    pub kind: String,
    /// The node concerned: the fenced node (fencing), the node whose membership changed
    /// (node), the node the resource ran on (resource) (`CRM_alert_node`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The fencing action (`off`, `reboot`, `on`: from Pacemaker's description, since
    /// `CRM_alert_task` of a fencing alert is the notification type `st_notify_fence`) or
    /// the resource operation (`CRM_alert_task`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// `CRM_alert_task` as Pacemaker gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Fencing: the node that carried the fencing out (from the description).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executioner: Option<String>,
    /// Fencing: who asked for it, `client@origin` (from the description).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// Fencing: `rc` is 0. Resource: `status` is 0 and `rc` is `target_rc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// The return code (`CRM_alert_rc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rc: Option<i64>,
    /// Pacemaker's description (`CRM_alert_desc`): the node state (`member`, `lost`), the
    /// fencing result sentence, or the operation result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// The resource (`CRM_alert_rsc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rsc: Option<String>,
    /// The operation's interval in ms (`CRM_alert_interval`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<i64>,
    /// The executor status of the operation (`CRM_alert_status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    /// The expected return code (`CRM_alert_target_rc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rc: Option<i64>,
    /// The operation's run time in ms (`CRM_alert_exec_time`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec_time_ms: Option<i64>,
    /// The attribute's name (`CRM_alert_attribute_name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_name: Option<String>,
    /// The attribute's new value (`CRM_alert_attribute_value`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_value: Option<String>,
    /// The node's id (`CRM_alert_nodeid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodeid: Option<String>,
    /// When the event happened, RFC 3339 UTC with milliseconds, from
    /// `CRM_alert_timestamp_epoch` and `CRM_alert_timestamp_usec`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The time as Pacemaker formatted it (`CRM_alert_timestamp`, the alert's
    /// `timestamp-format`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// When this record was written, RFC 3339 UTC with milliseconds.
    pub recorded_at: String,
    /// The order of alerts on this node (`CRM_alert_node_sequence`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<i64>,
    /// The recipient (`CRM_alert_recipient`): the file written.
    pub recipient: String,
    /// Pacemaker's version (`CRM_alert_version`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Reads the `CRM_alert_*` variables of `env` into a record; `Err` says why there is
/// nothing to record (`Ok(None)`: no recipient configured).
pub(crate) fn record_from_env(
    env: &BTreeMap<String, String>,
) -> Result<Option<AlertRecord>, String> {
    let get = |name: &str| {
        env.get(&format!("CRM_alert_{name}"))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let int = |name: &str| get(name).and_then(|v| v.trim().parse::<i64>().ok());
    let Some(kind) = get("kind") else {
        return Err(
            "CRM_alert_kind is not set: this alert agent must be run by Pacemaker (1.1.15 or later)"
                .to_owned(),
        );
    };
    let Some(recipient) = get("recipient") else {
        return Ok(None);
    };
    let rc = int("rc");
    let status = int("status");
    let target_rc = int("target_rc");
    let success = match kind.as_str() {
        "fencing" => rc.map(|rc| rc == 0),
        "resource" => match (rc, status) {
            (Some(rc), Some(status)) => Some(status == 0 && rc == target_rc.unwrap_or(0)),
            _ => None,
        },
        _ => None,
    };
    let at = int("timestamp_epoch").and_then(|secs| {
        let secs = u64::try_from(secs).ok()?;
        let usec = int("timestamp_usec")
            .and_then(|u| u64::try_from(u).ok())
            .unwrap_or(0);
        let t = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(secs)
            + std::time::Duration::from_micros(usec);
        Some(fence_core::events::rfc3339(t))
    });
    let task = get("task");
    let fencing = match (kind.as_str(), get("desc")) {
        ("fencing", Some(desc)) => parse_fencing_desc(&desc),
        _ => None,
    };
    let action = match kind.as_str() {
        "fencing" => fencing
            .as_ref()
            .map(|f| f.action.clone())
            .or_else(|| task.clone().filter(|t| !t.starts_with("st_notify"))),
        "resource" => task.clone(),
        _ => None,
    };
    Ok(Some(AlertRecord {
        source: "pacemaker",
        node: get("node"),
        action,
        task,
        executioner: fencing.as_ref().and_then(|f| f.executioner.clone()),
        requested_by: fencing.and_then(|f| f.requested_by),
        success,
        rc,
        desc: get("desc"),
        rsc: get("rsc"),
        interval_ms: int("interval"),
        status,
        target_rc,
        exec_time_ms: int("exec_time"),
        attribute_name: get("attribute_name"),
        attribute_value: get("attribute_value"),
        nodeid: get("nodeid"),
        at,
        timestamp: get("timestamp"),
        recorded_at: fence_core::events::rfc3339(std::time::SystemTime::now()),
        sequence: int("node_sequence"),
        recipient,
        version: get("version"),
        kind,
    }))
}

/// What Pacemaker's description of a fencing operation says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FencingDesc {
    action: String,
    executioner: Option<String>,
    requested_by: Option<String>,
}

/// Parses Pacemaker's description of a fencing operation,
/// `Operation ACTION of TARGET by EXECUTIONER for CLIENT@ORIGIN: RESULT (ref=...)`.
fn parse_fencing_desc(desc: &str) -> Option<FencingDesc> {
    let rest = desc.strip_prefix("Operation ")?;
    let (action, rest) = rest.split_once(" of ")?;
    if action.is_empty() || action.contains(' ') {
        return None;
    }
    let (executioner, requested_by) = match rest.split_once(" by ") {
        Some((_, by)) => {
            let (who, rest) = by.split_once(" for ").unwrap_or((by, ""));
            let client = rest.split_once(": ").map_or(rest, |(c, _)| c);
            (
                Some(who.to_owned()).filter(|w| !w.is_empty() && !w.starts_with('<')),
                Some(client.to_owned()).filter(|c| !c.is_empty()),
            )
        }
        None => (None, None),
    };
    Some(FencingDesc {
        action: action.to_owned(),
        executioner,
        requested_by,
    })
}

const ALERT_USAGE: &str = "Usage: fence-agent alert   (or a link named fence_rs_alert)\n\
\tPacemaker alert agent: appends each alert as a JSON line (\"source\":\"pacemaker\") to the\n\
\tfile named by the alert's recipient (CRM_alert_recipient). Configure it in the CIB:\n\
\t  <alert id=\"fence-rs\" path=\"/usr/local/libexec/fence-rs/fence_rs_alert\">\n\
\t    <recipient id=\"fence-rs-log\" value=\"/var/log/fence-events.jsonl\"/></alert>\n\
\tThe file must be writable by the hacluster user.\n";

/// Runs alert mode with the arguments after `alert` (only `--help` is accepted); returns
/// the exit code.
pub(crate) fn run(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help" | "help") => {
            print!("{ALERT_USAGE}");
            return 0;
        }
        Some(other) => {
            eprintln!("fence-agent alert: unknown argument '{other}'\n{ALERT_USAGE}");
            return 1;
        }
    }
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("CRM_alert_"))
        .collect();
    match record_from_env(&env) {
        Err(e) => {
            eprintln!("fence-agent alert: {e}");
            1
        }
        Ok(None) => {
            eprintln!(
                "fence-agent alert: no recipient configured (CRM_alert_recipient): nothing recorded"
            );
            0
        }
        Ok(Some(record)) => write_record(&record),
    }
}

/// Appends a record to its recipient file.
fn write_record(record: &AlertRecord) -> i32 {
    let path = Path::new(&record.recipient);
    if !path.is_absolute() {
        eprintln!(
            "fence-agent alert: the recipient must be an absolute file path, got '{}'",
            record.recipient
        );
        return 1;
    }
    let line = match serde_json::to_string(record) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fence-agent alert: cannot serialise the alert: {e}");
            return 1;
        }
    };
    match append_line(path, &line, LOCK_BOUND) {
        Ok(()) => 0,
        Err(e) => {
            let user = std::env::var("USER").unwrap_or_default();
            eprintln!(
                "fence-agent alert: cannot append to {}: {e} (running as uid {}{}; the file must be writable by the user Pacemaker runs alert agents as, hacluster)",
                path.display(),
                rustix::process::getuid().as_raw(),
                if user.is_empty() {
                    String::new()
                } else {
                    format!(" {user}")
                }
            );
            1
        }
    }
}

/// The options of `install-alert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstallAlert {
    /// Where the link goes.
    pub dir: PathBuf,
    /// The link's name (must select alert mode).
    pub name: String,
    /// Replace an existing file that is not our link.
    pub force: bool,
}

/// Parses `install-alert --dir DIR [--name NAME] [--force]`.
pub(crate) fn parse_install(args: &[String]) -> Result<InstallAlert, String> {
    let mut dir = None;
    let mut name = DEFAULT_NAME.to_owned();
    let mut force = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("install-alert: {what} needs a value"))
        };
        match key {
            "--dir" | "-d" => dir = Some(PathBuf::from(value("--dir")?)),
            "--name" => name = value("--name")?,
            "--force" | "-f" => force = true,
            other => return Err(format!("install-alert: unknown argument '{other}'")),
        }
    }
    let dir = dir.ok_or("install-alert: --dir DIR is required")?;
    if !is_alert_name(&name) || name.contains('/') {
        return Err(format!(
            "install-alert: the name must start with 'fence' and end with '_alert' or '-alert' (got '{name}'), so that it selects alert mode"
        ));
    }
    Ok(InstallAlert { dir, name, force })
}

/// `fence-agent install-alert ARGS`: returns the exit code.
pub(crate) fn install_main(args: &[String]) -> i32 {
    match parse_install(args).and_then(|o| install(&o)) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// Installs a copy of this executable in `DIR` with the link `DIR/NAME` to it (the
/// machinery of `install`, so `uninstall --dir DIR` removes both); returns the lines to
/// print.
pub(crate) fn install(opts: &InstallAlert) -> Result<String, String> {
    crate::install::install_names(&opts.dir, std::slice::from_ref(&opts.name), opts.force)
        .map(|lines| lines.join("\n"))
        .map_err(|e| e.replacen("install:", "install-alert:", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (format!("CRM_alert_{k}"), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn alert_names() {
        assert!(is_alert_name("fence_rs_alert"));
        assert!(is_alert_name("fence-agent-alert"));
        assert!(!is_alert_name("fence_alert"));
        assert!(!is_alert_name("fence_rs_ipmilan"));
        assert!(!is_alert_name("alert"));
    }

    #[test]
    fn a_fencing_alert_names_target_action_and_result() {
        let r = record_from_env(&env(&[
            ("kind", "fencing"),
            ("node", "node-b"),
            ("task", "st_notify_fence"),
            ("rc", "0"),
            (
                "desc",
                "Operation reboot of node-b by node1 for stonith_admin.19779@node1: OK (ref=94ca617f)",
            ),
            ("recipient", "/var/log/fence-events.jsonl"),
            ("timestamp_epoch", "1795317702"),
            ("timestamp_usec", "123456"),
            ("version", "2.1.8"),
            ("node_sequence", "7"),
        ]))
        .unwrap()
        .unwrap();
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["source"], "pacemaker");
        assert_eq!(v["kind"], "fencing");
        assert_eq!(v["node"], "node-b");
        assert_eq!(v["action"], "reboot");
        assert_eq!(v["task"], "st_notify_fence");
        assert_eq!(v["executioner"], "node1");
        assert_eq!(v["requested_by"], "stonith_admin.19779@node1");
        assert_eq!(v["success"], true);
        assert_eq!(v["rc"], 0);
        assert_eq!(v["at"], "2026-11-22T03:21:42.123Z");
        assert_eq!(v["sequence"], 7);
        assert!(v.get("rsc").is_none());
        let line = serde_json::to_string(&r).unwrap();
        assert!(
            line.starts_with("{\"source\":\"pacemaker\",\"kind\":\"fencing\""),
            "{line}"
        );
    }

    #[test]
    fn resource_and_node_alerts() {
        let r = record_from_env(&env(&[
            ("kind", "resource"),
            ("node", "node1"),
            ("rsc", "fd-ipmi"),
            ("task", "monitor"),
            ("interval", "60000"),
            ("rc", "7"),
            ("target_rc", "0"),
            ("status", "0"),
            ("desc", "not running"),
            ("recipient", "/tmp/x"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(r.success, Some(false));
        assert_eq!(r.interval_ms, Some(60_000));
        assert_eq!(r.action.as_deref(), Some("monitor"));
        let n = record_from_env(&env(&[
            ("kind", "node"),
            ("node", "node2"),
            ("desc", "lost"),
            ("nodeid", "2"),
            ("recipient", "/tmp/x"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(n.success, None);
        assert_eq!(n.action, None);
        assert_eq!(n.desc.as_deref(), Some("lost"));
    }

    #[test]
    fn no_kind_is_an_error_and_no_recipient_records_nothing() {
        assert!(record_from_env(&env(&[("recipient", "/tmp/x")])).is_err());
        assert_eq!(record_from_env(&env(&[("kind", "node")])), Ok(None));
    }

    #[test]
    fn install_names_must_select_alert_mode() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(parse_install(&args(&["--dir", "/tmp", "--name", "fence_rs_ipmilan"])).is_err());
        let o = parse_install(&args(&["--dir=/tmp"])).unwrap();
        assert_eq!(o.name, DEFAULT_NAME);
        assert!(parse_install(&args(&["--name", "fence_x_alert"])).is_err());
    }
}
