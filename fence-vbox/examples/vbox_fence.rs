//! Fence a VirtualBox guest through its host, with the fence-rs engine.
//!
//! ```text
//! FENCE_PASSWORD=password cargo run -p fence-vbox --example vbox_fence -- \
//!     127.0.0.1:2222 fenceuser status vm1
//! cargo run -p fence-vbox --example vbox_fence -- \
//!     --key ~/.ssh/id_ed25519 --known-hosts /tmp/kh vbox-host fenceuser list
//! ```
//!
//! Arguments: `[--key FILE] [--known-hosts FILE] HOST[:PORT] USER ACTION [PLUG]`, with
//! ACTION one of on, off, reboot, status, list, list-status, monitor. The password (or
//! the key's passphrase) comes from `FENCE_PASSWORD`, never from the command line.
//! `RUST_LOG`-style detail: set `FENCE_DEBUG=1` to see every remote command.

use std::process::ExitCode;
use std::time::Instant;

use fence_core::{Action, Engine, FenceDevice, Outcome, PowerState, Request, Timing};
use fence_vbox::{VboxConfig, VboxDevice};

fn usage() -> ExitCode {
    eprintln!("usage: vbox_fence [--key FILE] [--known-hosts FILE] HOST[:PORT] USER ACTION [PLUG]");
    ExitCode::from(1)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    if std::env::var_os("FENCE_DEBUG").is_some() {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(std::io::stderr)
            .init();
    }
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut key = None;
    let mut known_hosts = None;
    while args.first().is_some_and(|a| a.starts_with("--")) {
        let flag = args.remove(0);
        if args.is_empty() {
            return usage();
        }
        let value = args.remove(0);
        match flag.as_str() {
            "--key" => key = Some(value),
            "--known-hosts" => known_hosts = Some(value),
            _ => return usage(),
        }
    }
    let (target, user, action) = match (args.first(), args.get(1), args.get(2)) {
        (Some(t), Some(u), Some(a)) => (t.clone(), u.clone(), a.clone()),
        _ => return usage(),
    };
    let plug = args.get(3).cloned().unwrap_or_default();
    let action: Action = match action.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return usage();
        }
    };
    let (host, port) = match target.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && p.parse::<u16>().is_ok() => {
            (h.to_owned(), p.parse().unwrap_or(22))
        }
        _ => (target.clone(), 22),
    };

    let mut config = VboxConfig::new(host, user).port(port);
    if let Ok(pw) = std::env::var("FENCE_PASSWORD") {
        config = config.password(pw);
    }
    if let Some(k) = key {
        config = config.identity_file(k);
    }
    if let Some(kh) = known_hosts {
        config = config.known_hosts_file(kh);
    }
    let device = match VboxDevice::new(config) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };

    let started = Instant::now();
    let report = Engine::new(Timing::default())
        .run(&device, &Request::new(action, [plug]))
        .await;
    let _ = device.close().await;
    eprintln!(
        "[{} in {:?}: {} SSH login(s), {} remote command(s), {} state read(s)]",
        action,
        started.elapsed(),
        device.logins(),
        device.remote_commands(),
        report.reads.len()
    );
    match report.result {
        Ok(Outcome::Status { state }) => {
            println!("Status: {}", state.as_upper_str());
            if state == PowerState::Off {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Ok(Outcome::Listed { outlets }) => {
            for o in outlets {
                match (action, o.state) {
                    (Action::ListStatus, Some(s)) => {
                        println!("{},{},{}", o.id, o.alias, s.as_str())
                    }
                    _ => println!("{},{}", o.id, o.alias),
                }
            }
            ExitCode::SUCCESS
        }
        Ok(outcome) => {
            println!("{outcome:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Failed: {e}");
            ExitCode::from(1)
        }
    }
}
