//! `fence-sim`: simulated BMCs on the command line.
//!
//! ```text
//! fence-sim redfish [--services N] [--systems M] [--port P] ...   # HTTPS, prints a JSON line
//! fence-sim ipmi [--count N] [--base-port P] ...                  # UDP, prints a JSON line
//! ```
//!
//! Each prints one JSON line on stdout once it is ready (the ports chosen, the CA file),
//! also written to `--info-file`, and runs until SIGINT or SIGTERM.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use fence_core::PowerState;
use fence_sim::ipmi::{IpmiConfig, IpmiSim};
use fence_sim::redfish::{Profile, RedfishConfig, RedfishSim};
use fence_sim::{Event, Faults, Observer, PowerHook};

const USAGE: &str = "\
fence-sim: simulated BMCs for fence-rs

USAGE:
  fence-sim redfish [OPTIONS]   Redfish services over HTTPS (certificate made at start)
  fence-sim ipmi [OPTIONS]      IPMI BMCs (RMCP+ and v1.5 sessions) over UDP, one port each
  fence-sim bench [OPTIONS]     fence 1,000 simulated IPMI BMCs with fence_core::many

COMMON OPTIONS:
  --address ADDR      listen address (default 127.0.0.1)
  --username USER     accepted user (default admin)
  --password PASS     accepted password (default password)
  --state on|off      initial power state (default on)
  --delay-ms MS       delay before a power change takes effect (default 0; Redfish:
                      the profile's typical delay)
  --fault MODE[@I,J]  silent | drop=SHARE | refuse | lie; on all instances or on the
                      0-based instances listed (repeatable)
  --info-file PATH    also write the JSON readiness line to PATH
  --events            log every connection, request and datagram on stderr
  --on-power-change CMD
                      run the program CMD as `CMD MACHINE on|off` each time a power
                      change takes effect (the machine waits for it): MACHINE is
                      ipmi-I (BMC I, 0-based) or redfish-S-N (service S, 0-based,
                      system N as in its URI); a failing CMD is logged on stderr

REDFISH OPTIONS:
  --port P            port of the first service (default 0: any free port each)
  --services N        services, one port each (default 1)
  --systems M         systems per service, ids 1..M (default 1)
  --ca-file PATH      where to write the CA certificate (default: a temporary file)
  --profile NAME      how the service is laid out and answers: generic (default), ilo5,
                      idrac9, xcc, supermicro, openbmc (see the README of fence-sim,
                      Vendor profiles)

IPMI OPTIONS:
  --base-port P|auto  port of the first BMC, then P+1, ...; auto: a free consecutive
                      range (for hostranges); default 0: any free port each
  --count N           BMCs (default 1)
  --lanplus-only      IPMI v1.5 switched off: no v1.5 authentication type offered,
                      Get Session Challenge refused (a BMC that wants lanplus)


BENCH OPTIONS (the client side; start `fence-sim ipmi` first):
  --info-file PATH    the JSON line `fence-sim ipmi` wrote (address and ports)
  --action A          off (default), on or status
  --fanout N          targets in flight at once (default: all)
  --cipher N          cipher suite (default 3)
  Prints one JSON line: counts, wall time, peak memory (VmHWM), round trips.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    if matches!(command.as_str(), "-h" | "--help" | "help")
        || rest.iter().any(|a| a == "-h" || a == "--help")
    {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fence-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let opts = Opts::parse(rest)?;
        match command.as_str() {
            "redfish" => redfish(opts).await,
            "ipmi" => ipmi(opts).await,
            "bench" => bench(opts).await,
            _ => Err(format!("unknown command '{command}'\n\n{USAGE}")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fence-sim: {e}");
            ExitCode::from(2)
        }
    }
}

/// Parsed `--name value` options (and the flags `--events`, `--lanplus-only`).
struct Opts {
    values: HashMap<String, String>,
    faults: Vec<(Faults, Option<Vec<usize>>)>,
    events: bool,
    lanplus_only: bool,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut values = HashMap::new();
        let mut faults = Vec::new();
        let mut events = false;
        let mut lanplus_only = false;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
                _ => (arg.as_str(), None),
            };
            if name == "--events" {
                events = true;
                continue;
            }
            if name == "--lanplus-only" {
                lanplus_only = true;
                continue;
            }
            if name == "-h" || name == "--help" {
                return Err(USAGE.to_owned());
            }
            let Some(key) = name.strip_prefix("--") else {
                return Err(format!("unexpected argument '{arg}'"));
            };
            let value = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))?,
            };
            if key == "fault" {
                let (mode, which) = match value.split_once('@') {
                    Some((m, list)) => {
                        let idx = list
                            .split(',')
                            .map(|s| s.trim().parse::<usize>())
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|_| format!("--fault {value}: bad instance list"))?;
                        (m, Some(idx))
                    }
                    None => (value.as_str(), None),
                };
                faults.push((Faults::NONE.with(mode)?, which));
                continue;
            }
            values.insert(key.to_owned(), value);
        }
        Ok(Opts {
            values,
            faults,
            events,
            lanplus_only,
        })
    }

    fn take(&mut self, key: &str) -> Option<String> {
        self.values.remove(key)
    }

    fn parsed<T: std::str::FromStr>(&mut self, key: &str, default: T) -> Result<T, String> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{key}: bad value '{v}'")),
        }
    }

    fn state(&mut self) -> Result<PowerState, String> {
        match self.take("state").as_deref() {
            None | Some("on") => Ok(PowerState::On),
            Some("off") => Ok(PowerState::Off),
            Some(v) => Err(format!("--state: expected on or off, got '{v}'")),
        }
    }

    /// The faults for every instance, and per listed instance.
    fn faults(&self) -> (Faults, HashMap<usize, Faults>) {
        let merge = Faults::merge;
        let mut all = Faults::NONE;
        for (f, which) in &self.faults {
            if which.is_none() {
                all = merge(all, *f);
            }
        }
        let mut some: HashMap<usize, Faults> = HashMap::new();
        for (f, which) in &self.faults {
            for i in which.iter().flatten() {
                let entry = some.entry(*i).or_insert(all);
                *entry = merge(*entry, *f);
            }
        }
        (all, some)
    }

    fn observer(&self) -> Option<Observer> {
        self.events.then(|| {
            Arc::new(|e: &Event| eprintln!("{} #{}: {}", e.kind, e.instance, e.what)) as Observer
        })
    }

    fn finish(&self) -> Result<(), String> {
        match self.values.keys().next() {
            Some(k) => Err(format!("unknown option --{k}")),
            None => Ok(()),
        }
    }
}

/// Prints the readiness line and writes it to `--info-file`.
fn announce(info: &serde_json::Value, info_file: Option<&str>) -> Result<(), String> {
    let line = info.to_string();
    if let Some(path) = info_file {
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, format!("{line}\n"))
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("writing {path}: {e}"))?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))
}

async fn until_stopped() -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

async fn redfish(mut o: Opts) -> Result<(), String> {
    if o.lanplus_only {
        return Err("--lanplus-only is an option of `fence-sim ipmi`".into());
    }
    let (faults, faults_of) = o.faults();
    let profile = match o.take("profile") {
        None => Profile::named("generic"),
        Some(name) => Profile::named(&name),
    }
    .ok_or_else(|| {
        format!(
            "--profile: unknown profile (expected one of {})",
            Profile::names().join(", ")
        )
    })?;
    let default_delay = u64::try_from(profile.typical_delay.as_millis()).unwrap_or(u64::MAX);
    let config = RedfishConfig {
        address: o.parsed::<IpAddr>("address", IpAddr::from([127, 0, 0, 1]))?,
        port: o.parsed("port", 0)?,
        services: o.parsed("services", 1)?,
        systems: o.parsed("systems", 1)?,
        username: o.take("username").unwrap_or_else(|| "admin".into()),
        password: o.take("password").unwrap_or_else(|| "password".into()),
        initial: o.state()?,
        delay: Duration::from_millis(o.parsed("delay-ms", default_delay)?),
        faults,
        faults_of,
        observer: o.observer(),
        profile,
        session_timeout: None,
    };
    let ca_file = o.take("ca-file").unwrap_or_else(|| {
        std::env::temp_dir()
            .join(format!("fence-sim-{}-ca.pem", std::process::id()))
            .display()
            .to_string()
    });
    let info_file = o.take("info-file");
    let on_change = o.take("on-power-change");
    o.finish()?;
    let sim = RedfishSim::start(config)
        .await
        .map_err(|e| format!("starting the Redfish simulator: {e}"))?;
    if let Some(cmd) = &on_change {
        for (s, service) in sim.services().iter().enumerate() {
            for (i, machine) in service.systems.iter().enumerate() {
                machine.on_power_change(power_hook(cmd, format!("redfish-{s}-{}", i + 1)));
            }
        }
    }
    std::fs::write(&ca_file, sim.ca_pem()).map_err(|e| format!("writing {ca_file}: {e}"))?;
    announce(&sim.describe(Some(&ca_file)), info_file.as_deref())?;
    until_stopped().await?;
    drop(sim);
    Ok(())
}

async fn ipmi(mut o: Opts) -> Result<(), String> {
    let (faults, faults_of) = o.faults();
    let base = o.take("base-port").unwrap_or_else(|| "0".into());
    let consecutive = base == "auto";
    let config = IpmiConfig {
        address: o.parsed::<IpAddr>("address", IpAddr::from([127, 0, 0, 1]))?,
        base_port: if consecutive {
            0
        } else {
            base.parse()
                .map_err(|_| format!("--base-port: bad value '{base}'"))?
        },
        count: o.parsed("count", 1)?,
        username: o.take("username").unwrap_or_else(|| "admin".into()),
        password: o.take("password").unwrap_or_else(|| "password".into()),
        initial: o.state()?,
        delay: Duration::from_millis(o.parsed("delay-ms", 0)?),
        faults,
        faults_of,
        observer: o.observer(),
        lanplus_only: o.lanplus_only,
    };
    let info_file = o.take("info-file");
    let on_change = o.take("on-power-change");
    o.finish()?;
    let sim = if consecutive {
        IpmiSim::start_consecutive(config).await
    } else {
        IpmiSim::start(config).await
    }
    .map_err(|e| format!("starting the IPMI simulator: {e}"))?;
    if let Some(cmd) = &on_change {
        for (i, bmc) in sim.bmcs().iter().enumerate() {
            bmc.machine
                .on_power_change(power_hook(cmd, format!("ipmi-{i}")));
        }
    }
    announce(&sim.describe(), info_file.as_deref())?;
    until_stopped().await?;
    drop(sim);
    Ok(())
}

/// `--on-power-change CMD`: runs `CMD NAME on|off` and waits for it (the machine's state
/// stays locked meanwhile, so no client sees the new state before CMD has made it true).
/// The bound of one `--on-power-change` command: past it the command is killed and the
/// change takes effect all the same (a power cut does not wait).
const POWER_HOOK_BOUND: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs `cmd` and waits for it at most `bound`; a command still running then is killed.
fn run_bounded(
    cmd: &mut std::process::Command,
    bound: std::time::Duration,
) -> std::io::Result<std::process::ExitStatus> {
    let mut child = cmd.spawn()?;
    let deadline = std::time::Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("still running after {} s, killed", bound.as_secs()),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn power_hook(cmd: &str, name: String) -> PowerHook {
    let cmd = cmd.to_owned();
    Arc::new(move |to: PowerState| {
        let outcome = run_bounded(
            std::process::Command::new(&cmd)
                .arg(&name)
                .arg(to.as_str())
                .stdin(std::process::Stdio::null()),
            POWER_HOOK_BOUND,
        );
        match outcome {
            Ok(status) if status.success() => {
                eprintln!("fence-sim: {name} {}: {cmd} done", to.as_str());
            }
            Ok(status) => eprintln!("fence-sim: {name} {}: {cmd} failed ({status})", to.as_str()),
            Err(e) => eprintln!("fence-sim: {name} {}: cannot run {cmd}: {e}", to.as_str()),
        }
    })
}

/// The peak resident set size of this process so far, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn bench(mut o: Opts) -> Result<(), String> {
    use fence_core::many::{Limits, Many, Target};
    use fence_core::{Action, Engine, FenceDevice, Secret, Timing};
    use fence_ipmi::{CipherSuite, IpmiConfig as ClientConfig, IpmiDevice};

    let info_file = o
        .take("info-file")
        .ok_or("bench needs --info-file (the file `fence-sim ipmi --info-file` wrote)")?;
    let action: Action = o
        .take("action")
        .unwrap_or_else(|| "off".into())
        .parse()
        .map_err(|e| format!("--action: {e}"))?;
    let username = o.take("username").unwrap_or_else(|| "admin".into());
    let password = o.take("password").unwrap_or_else(|| "password".into());
    let cipher: u8 = o.parsed("cipher", 3)?;
    let suite = CipherSuite::from_id(cipher).ok_or(format!("--cipher {cipher}: unsupported"))?;
    let fanout: usize = o.parsed("fanout", 0)?;
    o.finish()?;

    let info: serde_json::Value = std::fs::read_to_string(&info_file)
        .map_err(|e| format!("reading {info_file}: {e}"))
        .and_then(|s| serde_json::from_str(&s).map_err(|e| format!("{info_file}: {e}")))?;
    let address = info["address"]
        .as_str()
        .ok_or("info file: no address")?
        .to_owned();
    let ports: Vec<u16> = info["ports"]
        .as_array()
        .ok_or("info file: no ports")?
        .iter()
        .filter_map(|p| p.as_u64().and_then(|p| u16::try_from(p).ok()))
        .collect();

    let started = std::time::Instant::now();
    let mut devices = Vec::with_capacity(ports.len());
    for port in &ports {
        let config = ClientConfig::lanplus(
            address.clone(),
            username.clone(),
            Secret::new(password.clone()),
        )
        .with_port(*port)
        .with_cipher(suite);
        devices.push(Arc::new(
            IpmiDevice::new(config).map_err(|e| e.to_string())?,
        ));
    }
    let targets: Vec<Target> = devices
        .iter()
        .map(|d| Target::plugless(Arc::clone(d) as Arc<dyn FenceDevice>, action))
        .collect();
    let timing = Timing {
        power_timeout: Some(Duration::from_secs(10)),
        first_poll: Duration::from_millis(20),
        status_sleep: Duration::from_millis(500),
        call_timeout: Duration::from_secs(10),
        ..Timing::default()
    };
    let limits = Limits::default()
        .overall(if fanout == 0 { ports.len() } else { fanout })
        .per_device(1);
    let report = Many::new(Engine::new(timing))
        .limits(limits)
        .run(targets)
        .await;
    let wall = started.elapsed();

    let mut totals = fence_ipmi::Stats::default();
    for d in &devices {
        let s = d.stats();
        totals.round_trips += s.round_trips;
        totals.datagrams_sent += s.datagrams_sent;
        totals.datagrams_received += s.datagrams_received;
        totals.sessions_opened += s.sessions_opened;
        totals.sessions_closed += s.sessions_closed;
    }
    let off_verified = report
        .targets
        .iter()
        .filter(|t| t.report.off_verified())
        .count();
    let failures: Vec<String> = report
        .failed()
        .take(5)
        .map(|(i, t)| match &t.report.result {
            Err(e) => format!("#{i} {}: {e}", t.address),
            Ok(_) => String::new(),
        })
        .collect();
    let line = serde_json::json!({
        "tool": "fence-many",
        "action": action.as_str(),
        "targets": report.targets.len(),
        "succeeded": report.succeeded(),
        "off_verified": off_verified,
        "wall_s": wall.as_secs_f64(),
        "peak_rss_kib": peak_rss_kib(),
        "peak_in_flight": report.peak_in_flight,
        "round_trips": totals.round_trips,
        "datagrams_sent": totals.datagrams_sent,
        "sessions_opened": totals.sessions_opened,
        "sessions_closed": totals.sessions_closed,
        "close_failures": report.close_failures.len(),
        "failures": failures,
    });
    println!("{line}");
    if report.all_succeeded() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} targets failed",
            report.targets.len() - report.succeeded(),
            report.targets.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_power_hook_that_hangs_is_killed_at_its_bound() {
        let bound = std::time::Duration::from_millis(200);
        let t = std::time::Instant::now();
        let err = run_bounded(std::process::Command::new("sleep").arg("5"), bound)
            .expect_err("a hanging command is an error");
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(3),
            "{:?}",
            t.elapsed()
        );
        let ok = run_bounded(&mut std::process::Command::new("true"), bound).expect("true runs");
        assert!(ok.success());
    }
}
