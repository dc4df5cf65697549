//! `fence-acme-sim`: the simulated ACME board as a process, for the Pacemaker end-to-end
//! suite and demos.
//!
//! ```text
//! fence-acme-sim --username admin --password-file FILE [--delay-ms 1000]
//! ```
//!
//! Listens on 127.0.0.1, a free port; prints `listening 127.0.0.1:PORT` first, then one line
//! per power command the board accepts (`POWER OFF`, `POWER ON`), as it accepts it. The
//! password is read from a file so that it is not in the process list. Runs until killed.

use std::time::Duration;

use fence_acme::sim::AcmeSim;

fn usage(problem: &str) -> ! {
    eprintln!(
        "fence-acme-sim: {problem}\nusage: fence-acme-sim --username USER --password-file FILE [--delay-ms MS]"
    );
    std::process::exit(2);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut username, mut password_file, mut delay_ms) = (None, None, 1000u64);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--username" => username = Some(value()),
            "--password-file" => password_file = Some(value()),
            "--delay-ms" => {
                delay_ms = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--delay-ms takes milliseconds"))
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let username = username.unwrap_or_else(|| usage("--username is missing"));
    let path = password_file.unwrap_or_else(|| usage("--password-file is missing"));
    let password = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| usage(&format!("cannot read {path}: {e}")));
    let password = password.trim_end_matches(['\r', '\n']);
    let sim = AcmeSim::start(&username, password, Duration::from_millis(delay_ms))
        .await
        .unwrap_or_else(|e| usage(&format!("cannot listen: {e}")));
    println!("listening {}", sim.addr);
    let mut shown = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let journal = sim.journal();
        for line in &journal[shown..] {
            println!("{line}");
        }
        shown = journal.len();
    }
}
