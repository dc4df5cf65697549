//! Fencing events out of the CLI (issue 11): the event log under many concurrent agents and
//! alert agents, the notify command (environment, stdin, failures and hangs that change
//! nothing, its bound), and the Pacemaker alert mode with a synthetic `CRM_alert_*`
//! environment. The agents fence simulated IPMI BMCs (fence-sim, in process).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fence_core::PowerState;
use fence_sim::ipmi::{IpmiConfig, IpmiSim};
use fence_test_support::agent::{self, Program, Run};
use serde_json::Value;

/// Starts `n` simulated BMCs (admin/password, machines On, no power delay).
async fn bmcs(n: usize) -> IpmiSim {
    IpmiSim::start(IpmiConfig {
        count: n,
        ..IpmiConfig::default()
    })
    .await
    .unwrap()
}

/// The stdin of an agent run against a BMC on `port`.
fn ipmi_stdin(action: &str, port: u16, node: &str, extra: &str) -> String {
    format!(
        "action={action}\nip=127.0.0.1\nipport={port}\nusername=admin\npassword=password\n\
         lanplus=1\ncipher=3\npower_wait=0\nnodename={node}\n{extra}"
    )
}

/// Starts our agent with `stdin` (does not wait).
fn spawn_agent(agent: &str, stdin: &str) -> Child {
    Program::new(common::bin())
        .arg(agent)
        .spawn::<&str>(&[], stdin.as_bytes())
}

/// Starts our binary in alert mode with `CRM_alert_*` variables (keys without the prefix).
fn spawn_alert(program: &Path, args: &[&str], vars: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("CRM_alert_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in vars {
        cmd.env(format!("CRM_alert_{k}"), v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Bound on one agent or alert run of these tests.
const RUN_BOUND: Duration = Duration::from_secs(60);

/// Waits for a child (the simulators run on the test's runtime), at most [`RUN_BOUND`].
async fn finish(child: Child) -> Run {
    agent::finish(child, RUN_BOUND)
        .await
        .unwrap_or_else(|| panic!("still running after {RUN_BOUND:?}"))
}

async fn run_agent(agent: &str, stdin: &str) -> Run {
    finish(spawn_agent(agent, stdin)).await
}

fn lines_of(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "last line unterminated"
    );
    text.lines()
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {l:?}"))
        })
        .collect()
}

/// True while a process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_agents_and_forty_alerts_write_every_line_whole() {
    const N: usize = 40;
    let sim = bmcs(N).await;
    let dir = common::temp_dir("events-concurrent");
    let log = dir.join("events.jsonl");
    let link = dir.join("fence_rs_alert");
    std::os::unix::fs::symlink(common::bin(), &link).unwrap();
    let log_s = log.to_str().unwrap();

    let started = Instant::now();
    let mut children = Vec::new();
    for (i, bmc) in sim.bmcs().iter().enumerate() {
        let stdin = ipmi_stdin(
            "off",
            bmc.addr.port(),
            &format!("node-{i}"),
            &format!("event_log={log_s}\n"),
        );
        children.push(("agent", spawn_agent("fence_ipmilan", &stdin)));
        let node = format!("node-{i}");
        let seq = i.to_string();
        // As Pacemaker 2.1 sets them for a fencing alert.
        let desc =
            format!("Operation off of {node} by node1 for stonith_admin.{i}@node1: OK (ref=0)");
        children.push((
            "alert",
            spawn_alert(
                &link,
                &[],
                &[
                    ("version", "2.1.8"),
                    ("kind", "fencing"),
                    ("node", &node),
                    ("task", "st_notify_fence"),
                    ("rc", "0"),
                    ("desc", &desc),
                    ("recipient", log_s),
                    ("node_sequence", &seq),
                    ("timestamp_epoch", "1795317702"),
                    ("timestamp_usec", "5000"),
                ],
            ),
        ));
    }
    let mut codes = Vec::new();
    for (what, child) in children {
        let done = finish(child).await;
        assert_eq!(done.code, 0, "{what}: {}{}", done.stdout, done.stderr);
        if what == "agent" {
            assert_eq!(done.stdout, "Success: Powered OFF\n");
        }
        codes.push(done.code);
    }
    let elapsed = started.elapsed();

    let lines = lines_of(&log);
    assert_eq!(lines.len(), 2 * N, "every agent and alert left one line");
    let mut agent_nodes = BTreeSet::new();
    let mut alert_nodes = BTreeSet::new();
    for v in &lines {
        match v["source"].as_str() {
            Some("agent") => {
                assert_eq!(v["agent"], "fence_ipmilan");
                assert_eq!(v["backend"], "ipmi");
                assert_eq!(v["action"], "off");
                assert_eq!(v["success"], true, "{v}");
                assert_eq!(v["outcome"]["outcome"], "powered_off", "{v}");
                assert_eq!(v["off_verified"], true);
                assert!(!v.to_string().contains("\"password\""), "{v}");
                agent_nodes.insert(v["node"].as_str().unwrap().to_owned());
            }
            Some("pacemaker") => {
                assert_eq!(v["kind"], "fencing");
                assert_eq!(v["action"], "off");
                assert_eq!(v["success"], true);
                assert_eq!(v["at"], "2026-11-22T03:21:42.005Z");
                alert_nodes.insert(v["node"].as_str().unwrap().to_owned());
            }
            other => panic!("unexpected source {other:?}: {v}"),
        }
    }
    let want: BTreeSet<String> = (0..N).map(|i| format!("node-{i}")).collect();
    assert_eq!(agent_nodes, want);
    assert_eq!(alert_nodes, want);
    // The machines were really switched off (read from the simulator, not the agents).
    for bmc in sim.bmcs() {
        assert_eq!(bmc.machine.power(), PowerState::Off);
    }
    println!(
        "{N} agents + {N} alert agents started at once: {} lines, all whole, in {} ms",
        lines.len(),
        elapsed.as_millis()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_gets_the_event_in_its_environment_and_on_stdin() {
    let sim = bmcs(1).await;
    let port = sim.bmcs()[0].addr.port();
    let dir = common::temp_dir("events-notify-env");
    let log = dir.join("events.jsonl");
    let env_file = dir.join("env");
    let json_file = dir.join("stdin.json");
    let command = format!(
        "env | grep '^FENCE_EVENT_' | sort > {}; cat > {}",
        env_file.display(),
        json_file.display()
    );
    let done = run_agent(
        "fence_ilo3",
        &ipmi_stdin(
            "reboot",
            port,
            "node-b",
            &format!("event_log={}\nnotify_command={command}\n", log.display()),
        ),
    )
    .await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(done.stdout, "Success: Rebooted\n");

    let env: BTreeMap<String, String> = std::fs::read_to_string(&env_file)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(env["FENCE_EVENT_AGENT"], "fence_ilo3");
    assert_eq!(env["FENCE_EVENT_BACKEND"], "ipmi");
    assert_eq!(env["FENCE_EVENT_DEVICE"], format!("127.0.0.1:{port}"));
    assert_eq!(env["FENCE_EVENT_NODE"], "node-b");
    assert_eq!(env["FENCE_EVENT_PLUGS"], "");
    assert_eq!(env["FENCE_EVENT_ACTION"], "reboot");
    assert_eq!(env["FENCE_EVENT_SUCCESS"], "true");
    assert_eq!(env["FENCE_EVENT_RESULT"], "success");
    assert_eq!(env["FENCE_EVENT_OUTCOME"], "rebooted");
    assert_eq!(env["FENCE_EVENT_ERROR"], "");
    assert_eq!(env["FENCE_EVENT_OFF_VERIFIED"], "true");
    assert!(env["FENCE_EVENT_ATTEMPTS"].parse::<u32>().unwrap() >= 1);
    assert!(env["FENCE_EVENT_DURATION_MS"].parse::<u64>().is_ok());
    assert!(
        env["FENCE_EVENT_STARTED_AT"].ends_with('Z') && env["FENCE_EVENT_STARTED_AT"].len() == 24,
        "{}",
        env["FENCE_EVENT_STARTED_AT"]
    );
    assert_eq!(env.len(), 14, "{env:?}");

    // stdin carries the same record as the event log, as one line.
    let stdin = std::fs::read_to_string(&json_file).unwrap();
    assert!(
        stdin.ends_with('\n') && stdin.lines().count() == 1,
        "{stdin:?}"
    );
    let logged = lines_of(&log);
    assert_eq!(logged.len(), 1);
    assert_eq!(serde_json::from_str::<Value>(&stdin).unwrap(), logged[0]);
    assert_eq!(logged[0]["outcome"]["off_verified"], true);
    // The machine went through Off (two changes) and is On again.
    assert_eq!(sim.bmcs()[0].machine.power(), PowerState::On);
    assert_eq!(sim.bmcs()[0].machine.changes(), 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_notify_command_changes_no_exit_code_or_output() {
    let sim = bmcs(1).await;
    let port = sim.bmcs()[0].addr.port();
    let dead = common::silent_udp();
    drop(dead.0); // nothing listens there now: connection refused
    let cases = [
        ("off", port, 0, "Success: Powered OFF\n"),
        ("off", port, 0, "Success: Already OFF\n"),
        ("status", port, 2, "Status: OFF\n"),
        ("status", dead.1, 1, ""),
    ];
    for (action, port, want, stdout) in cases {
        // With the failing notify command first (the first off switches the machine off),
        // then the same run without it: same exit code.
        let notified = run_agent(
            "fence_ipmilan",
            &ipmi_stdin(
                action,
                port,
                "n1",
                "notify_command=echo notify says no >&2; exit 3\n",
            ),
        )
        .await;
        let plain = run_agent("fence_ipmilan", &ipmi_stdin(action, port, "n1", "")).await;
        assert_eq!(notified.code, want, "{action}: {}", notified.stderr);
        assert_eq!(notified.stdout, stdout, "{action}");
        assert_eq!(
            plain.code, want,
            "{action} without notify: {}",
            plain.stderr
        );
        assert!(
            notified
                .stderr
                .contains("notify_command failed (exit 3): notify says no"),
            "{action}: {}",
            notified.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_notify_command_is_killed_at_its_bound_and_changes_nothing() {
    let sim = bmcs(1).await;
    let port = sim.bmcs()[0].addr.port();
    let dir = common::temp_dir("events-notify-hang");
    let log = dir.join("events.jsonl");
    let pid_file = dir.join("pid");
    // Baseline: the same action without a notify command.
    let base = run_agent("fence_ipmilan", &ipmi_stdin("status", port, "n1", "")).await;
    assert_eq!(base.code, 0, "{}", base.stderr);

    let command = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
    let done = run_agent(
        "fence_ipmilan",
        &ipmi_stdin(
            "status",
            port,
            "n1",
            &format!(
                "event_log={}\nnotify_command={command}\nnotify_timeout=1\n",
                log.display()
            ),
        ),
    )
    .await;
    assert_eq!(done.code, base.code, "{}", done.stderr);
    assert_eq!(done.stdout, "Status: ON\n");
    assert!(
        done.stderr
            .contains("notify_command did not finish within 1 s: killed its process group"),
        "{}",
        done.stderr
    );
    // Bounded: the baseline plus the 1 s bound plus a margin for process start and kill.
    assert!(
        done.elapsed < base.elapsed + Duration::from_millis(2500),
        "took {:?} (baseline {:?})",
        done.elapsed,
        base.elapsed
    );
    assert!(done.elapsed >= Duration::from_secs(1), "{:?}", done.elapsed);
    // The background sleep was in the killed process group.
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive(pid), "the notify command's child {pid} survived");
    // The event was logged before the notify command ran.
    assert_eq!(lines_of(&log).len(), 1);
    println!(
        "hanging notify: {} ms (baseline {} ms, notify_timeout 1 s)",
        done.elapsed.as_millis(),
        base.elapsed.as_millis()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_event_log_that_cannot_be_written_changes_nothing() {
    let dead = common::silent_udp();
    drop(dead.0);
    let text = format!(
        "action=status\nip=127.0.0.1\nipport={}\nusername=a\npassword=b\n\
         event_log=/nonexistent-dir/x/events.jsonl\n",
        dead.1
    );
    let run = common::ours_stdin("fence_ipmilan", &text);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("event_log: cannot append to /nonexistent-dir/x/events.jsonl"),
        "{}",
        run.stderr
    );
}

fn alert_file(dir: &Path) -> PathBuf {
    dir.join("alerts.jsonl")
}

fn wait_alert(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn alert_mode_records_fencing_node_and_resource_alerts() {
    let dir = common::temp_dir("alert-mode");
    let file = alert_file(&dir);
    let f = file.to_str().unwrap();
    let bin = common::bin();
    // `fence-agent alert`
    let (code, err) = wait_alert(spawn_alert(
        &bin,
        &["alert"],
        &[
            ("version", "2.1.8"),
            ("kind", "fencing"),
            ("node", "node-b"),
            ("task", "st_notify_fence"),
            ("rc", "-61"),
            (
                "desc",
                "Operation reboot of node-b by node1 for stonith_admin.25327@node1: Error (ref=31db6ddb)",
            ),
            ("recipient", f),
            ("timestamp", "03:21:42.123456"),
        ],
    ));
    assert_eq!((code, err.as_str()), (0, ""));
    // through a link named fence-agent-alert
    let link = dir.join("fence-agent-alert");
    std::os::unix::fs::symlink(&bin, &link).unwrap();
    for vars in [
        vec![
            ("kind", "node"),
            ("node", "node-c"),
            ("nodeid", "3"),
            ("desc", "lost"),
        ],
        vec![
            ("kind", "resource"),
            ("node", "node1"),
            ("rsc", "fd-ipmi"),
            ("task", "monitor"),
            ("interval", "60000"),
            ("rc", "0"),
            ("target_rc", "0"),
            ("status", "0"),
            ("desc", "ok"),
        ],
    ] {
        let mut vars = vars;
        vars.push(("recipient", f));
        vars.push(("version", "2.1.8"));
        let (code, err) = wait_alert(spawn_alert(&link, &[], &vars));
        assert_eq!((code, err.as_str()), (0, ""));
    }
    let lines = lines_of(&file);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["source"], "pacemaker");
    assert_eq!(lines[0]["kind"], "fencing");
    assert_eq!(lines[0]["node"], "node-b");
    assert_eq!(lines[0]["action"], "reboot");
    assert_eq!(lines[0]["success"], false);
    assert_eq!(lines[0]["rc"], -61);
    assert_eq!(lines[0]["requested_by"], "stonith_admin.25327@node1");
    assert_eq!(lines[0]["timestamp"], "03:21:42.123456");
    assert_eq!(lines[0]["recipient"], f);
    assert_eq!(lines[1]["kind"], "node");
    assert_eq!(lines[1]["desc"], "lost");
    assert_eq!(lines[1]["nodeid"], "3");
    assert!(lines[1].get("success").is_none());
    assert_eq!(lines[2]["kind"], "resource");
    assert_eq!(lines[2]["rsc"], "fd-ipmi");
    assert_eq!(lines[2]["interval_ms"], 60000);
    assert_eq!(lines[2]["success"], true);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn alert_mode_failures_exit_non_zero_with_a_message() {
    let bin = common::bin();
    // Not run by Pacemaker.
    let (code, err) = wait_alert(spawn_alert(&bin, &["alert"], &[]));
    assert_eq!(code, 1);
    assert!(err.contains("CRM_alert_kind is not set"), "{err}");
    // No recipient: Pacemaker requires alert agents to accept it.
    let (code, err) = wait_alert(spawn_alert(&bin, &["alert"], &[("kind", "node")]));
    assert_eq!(code, 0);
    assert!(err.contains("no recipient configured"), "{err}");
    // A recipient that is not an absolute path.
    let (code, err) = wait_alert(spawn_alert(
        &bin,
        &["alert"],
        &[("kind", "node"), ("recipient", "relative.log")],
    ));
    assert_eq!(code, 1);
    assert!(err.contains("must be an absolute file path"), "{err}");
    // A file that cannot be written.
    let (code, err) = wait_alert(spawn_alert(
        &bin,
        &["alert"],
        &[("kind", "node"), ("recipient", "/nonexistent-dir/a.jsonl")],
    ));
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot append to /nonexistent-dir/a.jsonl"),
        "{err}"
    );
}

#[test]
fn install_alert_links_a_name_that_selects_alert_mode() {
    let dir = common::temp_dir("install-alert");
    let out = Command::new(common::bin())
        .args(["install-alert", "--dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let link = dir.join("fence_rs_alert");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        std::path::Path::new("fence-agent")
    );
    assert_eq!(
        std::fs::read(dir.join("fence-agent")).unwrap(),
        std::fs::read(common::bin()).unwrap(),
        "the link points to a copy of the binary"
    );
    let file = alert_file(&dir);
    let (code, err) = wait_alert(spawn_alert(
        &link,
        &[],
        &[("kind", "node"), ("recipient", file.to_str().unwrap())],
    ));
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(lines_of(&file).len(), 1);
    // A second install is a no-op; a name that would not select alert mode is refused.
    let again = Command::new(common::bin())
        .args(["install-alert", "--dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("already there"));
    let bad = Command::new(common::bin())
        .args([
            "install-alert",
            "--dir",
            dir.to_str().unwrap(),
            "--name",
            "alert",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn metadata_offers_the_event_parameters_to_every_agent() {
    for agent in common::AGENTS {
        let md = common::ours(agent, &["-o", "metadata"]).stdout;
        for (name, ty) in [
            ("event_log", "string"),
            ("notify_command", "string"),
            ("notify_timeout", "second"),
        ] {
            let at = md
                .find(&format!("<parameter name=\"{name}\""))
                .unwrap_or_else(|| panic!("{agent}: no {name}"));
            assert!(
                md[at..].contains(&format!("<content type=\"{ty}\"")),
                "{agent}: {name}"
            );
        }
    }
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// A FIFO as `debug_file` (with no reader: a blocking open would wait forever) is refused at
/// once with a clear message; as `event_log` it is refused when the event is delivered and
/// the run's result is unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn fifos_as_log_files_are_refused_without_waiting() {
    let dir = common::temp_dir("fifo-logs");
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let sim = bmcs(1).await;
    let port = sim.bmcs()[0].addr.port();
    let text = ipmi_stdin(
        "status",
        port,
        "",
        &format!("debug_file={}\n", fifo.display()),
    );
    let started = Instant::now();
    let run = tokio::task::spawn_blocking(move || common::ours_stdin("fence_ipmilan", &text))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "{}", run.all());
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "Failed: Unable to create file {}: it is a FIFO, not a regular file",
            fifo.display()
        )),
        "{}",
        run.stderr
    );

    let text = ipmi_stdin(
        "status",
        port,
        "",
        &format!("event_log={}\n", fifo.display()),
    );
    let started = Instant::now();
    let run = tokio::task::spawn_blocking(move || common::ours_stdin("fence_ipmilan", &text))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "{}", run.all());
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("Status: ON"), "{}", run.all());
    assert!(
        run.stderr.contains("a FIFO, not a regular file"),
        "{}",
        run.stderr
    );
    let _ = std::fs::remove_dir_all(dir);
}
