//! Runs as pacemaker-fenced makes them (`PCMK_service=pacemaker-fenced`, options on stdin)
//! against misbehaving fence-sim BMCs: `power_timeout` is disabled as in fence-agents, but
//! every network request keeps its bound, so a silent device still fails in seconds; a
//! device that never switches off keeps the agent polling (never a success) until
//! Pacemaker's own timeout; `disable_timeout=false` brings `power_timeout` back, with a
//! clean failure and the session closed.
#![allow(clippy::unwrap_used)]

mod fault_kit;

use std::process::Child;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use fault_kit::{PASSWORD, Program, Run, finish, ipmi_bmc, redfish_service, temp_dir, wait_until};

/// Slack for process start and scheduling on a loaded 2-core CI machine.
const SLACK: Duration = Duration::from_millis(1500);

/// Starts `fence-agent AGENT` as pacemaker-fenced does: the environment variable, the
/// options on stdin.
fn fenced(agent: &str, lines: &[String]) -> Child {
    let mut text = lines.join("\n");
    text.push('\n');
    Program::agent(agent)
        .env("PCMK_service", "pacemaker-fenced")
        .spawn::<&str>(&[], text.as_bytes())
}

fn ipmi_lines(action: &str, port: u16) -> Vec<String> {
    vec![
        format!("action={action}"),
        "ip=127.0.0.1".into(),
        format!("ipport={port}"),
        "username=admin".into(),
        format!("password={PASSWORD}"),
        "lanplus=1".into(),
        "power_wait=0".into(),
        "power_timeout=2".into(),
        "nodename=node-a".into(),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn under_pacemaker_a_silent_device_still_fails_within_the_request_bound() {
    let sim = ipmi_bmc(&["silent"]).await;
    let child = fenced(
        "fence_ipmilan",
        &ipmi_lines("off", sim.bmcs()[0].addr.port()),
    );
    let Run {
        code,
        stdout,
        stderr,
        elapsed: took,
    } = finish(child, Duration::from_secs(5) + SLACK * 2)
        .await
        .expect("a silent BMC must not keep the agent past login_timeout");
    assert_eq!(code, 1, "{stderr}");
    assert!(!stdout.contains("Success"), "{stdout}");
    assert!(stderr.contains("within 5.0 s"), "{stderr}");
    assert!(took <= Duration::from_secs(5) + SLACK, "{took:?}");

    let dir = temp_dir("pcmk-rf");
    let (rf, ca) = redfish_service(&["silent"], &dir).await;
    let lines = vec![
        "action=off".to_owned(),
        "ip=127.0.0.1".into(),
        format!("ipport={}", rf.services()[0].addr.port()),
        "username=admin".into(),
        format!("password={PASSWORD}"),
        format!("ssl_ca_file={ca}"),
        "systems_uri=/redfish/v1/Systems/1".into(),
    ];
    let child = fenced("fence_redfish", &lines);
    let Run {
        code,
        stderr,
        elapsed: took,
        ..
    } = finish(child, Duration::from_secs(5) + SLACK * 2)
        .await
        .expect("a silent Redfish service must not keep the agent past login_timeout");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("within 5 s"), "{stderr}");
    assert!(took <= Duration::from_secs(5) + SLACK, "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn under_pacemaker_a_device_that_stays_on_is_polled_until_pacemaker_gives_up() {
    let sim = ipmi_bmc(&["lie"]).await;
    let bmc = &sim.bmcs()[0];
    // power_timeout=2 is given, but pacemaker-fenced disables it (as in fence-agents).
    let child = fenced("fence_ipmilan", &ipmi_lines("off", bmc.addr.port()));
    let ran = finish(child, Duration::from_secs(5)).await;
    assert!(
        ran.is_none(),
        "the agent ended on its own under Pacemaker: {ran:?}"
    );
    assert_eq!(bmc.machine.power(), fence_core::PowerState::On);

    // disable_timeout=false: power_timeout applies, a clean failure, the session closed.
    let mut lines = ipmi_lines("off", bmc.addr.port());
    lines.push("disable_timeout=false".into());
    // The killed run's session is still open on the BMC (SIGKILL cannot be caught).
    assert_eq!(bmc.counters.sessions_closed.load(Relaxed), 0);
    let before = bmc.counters.sessions_closed.load(Relaxed);
    let child = fenced("fence_ipmilan", &lines);
    let Run {
        code,
        stdout,
        stderr,
        elapsed: took,
    } = finish(child, Duration::from_secs(2) + SLACK * 2)
        .await
        .expect("power_timeout=2 with disable_timeout=false");
    assert_eq!(code, 1, "{stderr}");
    assert!(!stdout.contains("Success"), "{stdout}");
    assert!(
        stderr.contains("Failed: Timed out waiting to power OFF"),
        "{stderr}"
    );
    assert!(
        took >= Duration::from_secs(2) && took <= Duration::from_secs(2) + SLACK,
        "{took:?}"
    );
    let c = &bmc.counters;
    assert!(
        wait_until(Duration::from_secs(1), || c.sessions_closed.load(Relaxed)
            > before),
        "the session of the clean run was not closed"
    );
}
