//! Fencing a node through Redfish from a Rust program.
//!
//! The options are fence-agents' `key=value` pairs (the same names Pacemaker writes on an
//! agent's stdin), parsed against the crate's parameter table:
//!
//! ```text
//! cargo run -p fence-redfish --example redfish_fence -- \
//!     ip=127.0.0.1:8443 username=admin password=password \
//!     ssl_ca_file=/path/to/ca.pem systems_uri=/redfish/v1/Systems/1 action=off
//! ```
//!
//! It prints the outcome, every status read the engine made (the evidence that the node is
//! off), the number of HTTP requests sent and the time taken. Exit code: 0 on success (for
//! `status`, 0 for on and 2 for off, as fence-agents), 1 on failure.

use std::process::ExitCode;
use std::time::Instant;

use fence_core::params::{ParamTable, common};
use fence_core::{Action, Engine, FenceDevice, Outcome, PowerState, Request, Timing};
use fence_redfish::{RedfishConfig, RedfishDevice};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

async fn run() -> fence_core::Result<ExitCode> {
    let table = ParamTable::new()
        .with(&common::every_agent())
        .with(&fence_redfish::params());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pairs = args
        .iter()
        .map(|a| a.split_once('=').unwrap_or((a.as_str(), "")));
    let options = table.parse(pairs)?;
    let action: Action = options.get("action").unwrap_or("reboot").parse()?;

    let config = RedfishConfig::from_options(&options)?;
    let device = RedfishDevice::new(config)?;
    let engine = Engine::new(Timing::from_options(&options)?);

    let started = Instant::now();
    let report = engine.run(&device, &Request::plugless(action)).await;
    // Always release what the device holds (a Redfish session), also after a failure.
    if let Err(e) = device.close().await {
        eprintln!("warning: {e}");
    }

    for read in &report.reads {
        println!("read at {:>8.1?}: {}", read.at, read.state);
    }
    println!(
        "{} HTTP requests to {} in {:.1?}",
        device.requests_sent(),
        device.address(),
        started.elapsed()
    );
    match report.result {
        Ok(Outcome::Status { state }) => {
            println!("Status: {state}");
            Ok(ExitCode::from(if state == PowerState::Off { 2 } else { 0 }))
        }
        Ok(outcome) => {
            println!("Success: {outcome:?}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
