//! What `fence_ipmilan` says when the BMC refuses IPMI v1.5 (issue 20): without `lanplus`,
//! a BMC with v1.5 switched off (fence-sim `lanplus_only`) fails with a hint to use
//! lanplus, spelt as the user gave the options; with lanplus the same BMC answers; a BMC
//! that takes v1.5 gets no hint. Before fence-agents' line for the failure, a line says
//! that it repeats the failure above.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use fence_sim::ipmi::{IpmiConfig, IpmiSim};
use fence_test_support::agent::{self, Program, Run};

const HINT_FLAGS: &str = "(the BMC may require IPMI v2.0: --lanplus (-P))";
const HINT_STDIN: &str = "(the BMC may require IPMI v2.0: lanplus=1)";
const REPEATED: &str = "ERROR: The next line is fence-agents' message for the same failure (for tools that match on it).";
const COMPAT: &str =
    "ERROR: Failed: Unable to obtain correct plug status or plug is not available\n";

async fn bmc(lanplus_only: bool) -> IpmiSim {
    IpmiSim::start(IpmiConfig {
        lanplus_only,
        ..IpmiConfig::default()
    })
    .await
    .unwrap()
}

async fn argv(args: &[&str]) -> Run {
    let child = Program::new(common::bin())
        .arg("fence_ipmilan")
        .spawn(args, b"");
    agent::finish(child, Duration::from_secs(30)).await.unwrap()
}

async fn stdin(text: &str) -> Run {
    let child = Program::new(common::bin())
        .arg("fence_ipmilan")
        .spawn::<&str>(&[], text.as_bytes());
    agent::finish(child, Duration::from_secs(30)).await.unwrap()
}

fn status_args(port: &str) -> Vec<&str> {
    vec![
        "-o",
        "status",
        "-a",
        "127.0.0.1",
        "-u",
        port,
        "-l",
        "admin",
        "-p",
        "password",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lanplus_only_bmc_without_lanplus_gets_the_hint_in_the_users_spelling() {
    let sim = bmc(true).await;
    let port = sim.bmcs()[0].addr.port().to_string();

    let r = argv(&status_args(&port)).await;
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("the BMC offers no authentication type for IPMI v1.5 (lan)"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains(HINT_FLAGS), "{}", r.all());

    // auth=md5 skips the capabilities: the refused Get Session Challenge gets the hint.
    let mut args = status_args(&port);
    args.extend(["-A", "md5"]);
    let r = argv(&args).await;
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("Get Session Challenge"), "{}", r.all());
    assert!(r.stderr.contains(HINT_FLAGS), "{}", r.all());
    // The cause, the line announcing the repetition, fence-agents' line: in this order.
    let cause = r.stderr.find(HINT_FLAGS).unwrap();
    let announced = r.stderr.find(REPEATED).unwrap();
    let compat = r.stderr.find(COMPAT).unwrap();
    assert!(cause < announced && announced < compat, "{}", r.all());

    let r = stdin(&format!(
        "action=status\nip=127.0.0.1\nipport={port}\nusername=admin\npassword=password\n"
    ))
    .await;
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains(HINT_STDIN), "{}", r.all());
    assert!(!r.stderr.contains("--lanplus"), "{}", r.all());

    // With lanplus, the same BMC answers.
    let mut args = status_args(&port);
    args.push("-P");
    let r = argv(&args).await;
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.stdout.trim(), "Status: ON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bmc_that_takes_v1_5_gets_no_hint() {
    let sim = bmc(false).await;
    let port = sim.bmcs()[0].addr.port().to_string();
    let r = argv(&status_args(&port)).await;
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.stdout.trim(), "Status: ON");
    // A wrong password over v1.5 is a login failure, not a v1.5 refusal: no hint.
    let mut args = status_args(&port);
    args[9] = "wrong-password";
    let r = argv(&args).await;
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(!r.stderr.contains("IPMI v2.0"), "{}", r.all());
    assert!(r.stderr.contains(REPEATED), "{}", r.all());
    assert!(r.stderr.contains(COMPAT), "{}", r.all());
}
