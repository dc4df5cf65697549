//! Fences a node through its BMC with the fence-ipmi library and fence-core's engine.
//!
//! ```text
//! cargo run -p fence-ipmi --example ipmi_fence -- HOST:PORT USER PASSWORD [ACTION] [OPTION...]
//!   ACTION   status (default), on, off, reboot, monitor, diag
//!   OPTION   cipher=N (lanplus suite; default: 17, then 3), lan (IPMI v1.5),
//!            auth=md5|password|none (with lan), privlvl=operator, method=cycle
//! ```
//! Example: `ipmi_fence 127.0.0.1:623 admin password off cipher=3`.
//! Prints the outcome, the engine's evidence and the datagrams counted, and closes the
//! session whatever happened.

use std::process::ExitCode;

use fence_core::params::{ParamTable, common};
use fence_core::{Action, Engine, FenceDevice, Request, Timing};
use fence_ipmi::{IpmiConfig, IpmiDevice};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!(
            "usage: ipmi_fence HOST:PORT USER PASSWORD [ACTION] [cipher=N|lan|auth=..|privlvl=..|method=..]"
        );
        return ExitCode::from(2);
    }
    match run(&args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e} ({:?})", e.kind());
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> fence_core::Result<ExitCode> {
    let (host, port) = args[0]
        .rsplit_once(':')
        .ok_or_else(|| fence_core::Error::invalid_input("HOST:PORT expected"))?;
    let action: Action = args.get(3).map_or(Ok(Action::Status), |a| a.parse())?;
    let mut pairs: Vec<(String, String)> = vec![
        ("ip".into(), host.trim_matches(['[', ']']).into()),
        ("ipport".into(), port.into()),
        ("username".into(), args[1].clone()),
        ("password".into(), args[2].clone()),
        ("lanplus".into(), "1".into()),
        ("power_wait".into(), "0".into()),
    ];
    for opt in args.iter().skip(4) {
        match opt.split_once('=') {
            Some((k, v)) => pairs.push((k.into(), v.into())),
            None if opt == "lan" => pairs.push(("lanplus".into(), "0".into())),
            None => {
                return Err(fence_core::Error::invalid_input(format!(
                    "unknown option {opt}"
                )));
            }
        }
    }
    let table = ParamTable::new()
        .with(&common::every_agent())
        .with(&fence_ipmi::params());
    let options = table.parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let config = IpmiConfig::from_options(&options)?;
    let timing = Timing::from_options(&options)?;
    let device = IpmiDevice::new(config)?;

    let report = Engine::new(timing)
        .run(&device, &Request::plugless(action))
        .await;
    let closed = device.close().await;
    println!("action:   {action}");
    println!("result:   {:?}", report.result);
    println!(
        "reads:    {:?}",
        report.reads.iter().map(|r| r.state).collect::<Vec<_>>()
    );
    println!("elapsed:  {:.1} ms", report.elapsed.as_secs_f64() * 1000.0);
    println!("wire:     {:?}", device.stats());
    if let Err(e) = closed {
        eprintln!("close:    {e}");
    }
    Ok(match report.result {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    })
}
