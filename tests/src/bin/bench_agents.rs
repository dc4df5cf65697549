//! Side-by-side benchmark: fence-rs's agents against Debian's Python fence agents on the same
//! loopback peers, with identical options (issue 8). Normally started by
//! `bash tests/bench/agents.sh`, which builds everything and starts the peers.
//!
//! For each target (agent + peer) and action, both implementations run with the same stdin
//! options, interleaved in one loop (the order alternates every iteration). A state-changing
//! action is preceded, outside the timing, by setting the opposite state with the peer's own
//! tools (curl, ipmitool, VBoxManage over ssh).
//!
//! - timed runs: the agent talks to the peer directly; the wall time from `fork` to the
//!   collected exit status is recorded;
//! - observed runs: the agent runs under `/usr/bin/time` (peak RSS, CPU time) and talks to
//!   the peer through a counting relay (IPMI: UDP datagrams; Redfish: TCP connections, plus
//!   requests from sushy's access log); VBox sessions and commands come from sshd's and the
//!   fake VBoxManage's logs.
//!
//! Prints a markdown table; `--out` also writes it with a header describing the run, `--csv`
//! writes every run.

#![forbid(unsafe_code)]

use fence_tests::bench;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bench::report::{ImplResult, Reference, Row, ms, reference_table, table};
use bench::run::{self, Invocation};
use bench::sim::FenceSim;
use bench::targets::{Op, Target};

const USAGE: &str = "\
usage: bench_agents [--ours PATH] [--fence-sim PATH] [--python-dir DIR] [--targets LIST]
                    [--ops LIST] [--runs N] [--warmup N] [--observe N] [--out FILE.md]
                    [--csv FILE.csv]
  --ours PATH        fence-rs's fence-agent binary (target/release/fence-agent); run as a
                     symlink named after each agent. Without it, ours is 'not available'.
  --fence-sim PATH   fence-rs's simulator (target/release/fence-sim): adds the target
                     fencesim, fence_redfish against a keep-alive Redfish service
  --python-dir DIR   where Debian's Python agents are (default /usr/sbin)
  --targets LIST     comma-separated: redfish,fencesim,ipmisim,fakebmc,vbox,virsh (default: all;
                     fencesim only with --fence-sim)
  --ops LIST         comma-separated: metadata,status,off,on,reboot (default: all)
  --runs N           timed runs per implementation and action (default 15)
  --warmup N         untimed runs first (default 2; the first one also checks that it works)
  --observe N        runs under /usr/bin/time through the counting relay (default 3)
The peer settings come from the environment ($PEERS_DIR/peers.env of tests/scripts/start-peers.sh).";

#[derive(Debug)]
struct Args {
    ours: Option<PathBuf>,
    fence_sim: Option<PathBuf>,
    python_dir: PathBuf,
    targets: Vec<String>,
    ops: Vec<Op>,
    runs: usize,
    warmup: usize,
    observe: usize,
    out: Option<PathBuf>,
    csv: Option<PathBuf>,
}

impl Args {
    fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut a = Args {
            ours: None,
            fence_sim: None,
            python_dir: PathBuf::from("/usr/sbin"),
            targets: Vec::new(),
            ops: Op::ALL.to_vec(),
            runs: 15,
            warmup: 2,
            observe: 3,
            out: None,
            csv: None,
        };
        while let Some(flag) = it.next() {
            if flag == "-h" || flag == "--help" {
                return Err(USAGE.to_owned());
            }
            let value = it
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            let count = |v: &str| {
                v.parse::<usize>()
                    .map_err(|_| format!("{flag}: {v:?} is not a count"))
            };
            match flag.as_str() {
                "--ours" => a.ours = Some(PathBuf::from(value)),
                "--fence-sim" => a.fence_sim = Some(PathBuf::from(value)),
                "--python-dir" => a.python_dir = PathBuf::from(value),
                "--targets" => a.targets = value.split(',').map(str::to_owned).collect(),
                "--ops" => {
                    a.ops = value
                        .split(',')
                        .map(|s| Op::parse(s).ok_or_else(|| format!("unknown action {s:?}")))
                        .collect::<Result<_, _>>()?;
                }
                "--runs" => a.runs = count(&value)?.max(1),
                "--warmup" => a.warmup = count(&value)?,
                "--observe" => a.observe = count(&value)?,
                "--out" => a.out = Some(PathBuf::from(value)),
                "--csv" => a.csv = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown option {flag}\n{USAGE}")),
            }
        }
        if a.targets.is_empty() {
            a.targets = ["redfish", "fencesim", "ipmisim", "fakebmc", "vbox", "virsh"]
                .into_iter()
                .filter(|t| *t != "fencesim" || a.fence_sim.is_some())
                .map(String::from)
                .collect();
        }
        Ok(a)
    }
}

/// Index of each implementation in the per-action arrays.
const OURS: usize = 0;
const PYTHON: usize = 1;
const NAMES: [&str; 2] = ["ours", "python"];

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bench_agents: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode, String> {
    let args = Args::parse(std::env::args().skip(1))?;
    if !Path::new(run::GNU_TIME).exists() {
        return Err(format!(
            "{} is missing: run tests/scripts/install-deps.sh",
            run::GNU_TIME
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the relay runtime: {e}"))?;
    let load_before = loadavg();
    let scratch = std::env::temp_dir().join(format!("fence-bench.{}", std::process::id()));
    std::fs::create_dir_all(scratch.join("bin"))
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;

    let mut csv = String::from(
        "target,action,impl,phase,iter,wall_ms,exit,ok,max_rss_kib,cpu_s,round_trips\n",
    );
    let fence_sim = match &args.fence_sim {
        Some(p) if args.targets.iter().any(|t| t == "fencesim") => {
            Some(FenceSim::start(p, &scratch)?)
        }
        _ => None,
    };
    let mut rows = Vec::new();
    let mut refs = Vec::new();
    for key in &args.targets {
        let mut target = Target::new(key, rt.handle(), fence_sim.as_ref())?;
        let programs = [
            ours_program(args.ours.as_deref(), &scratch, target.agent),
            python_program(&args.python_dir, target.agent),
        ];
        for &op in &args.ops {
            let row = bench_op(&args, &rt, &scratch, &mut target, op, &programs, &mut csv);
            eprintln!("{}", progress_line(&row));
            rows.push(row);
        }
        if args.ops.contains(&Op::Status) {
            let r = bench_reference(&args, &target);
            eprintln!(
                "{} reference ({}): {}",
                r.target,
                r.tool,
                bench::report::Stats::of(&r.times_ms)
                    .map_or("-".to_owned(), |s| format!("{} ms", ms(s.median)))
            );
            refs.push(r);
        }
    }
    drop(fence_sim);
    let _ = std::fs::remove_dir_all(&scratch);

    let load_after = loadavg();
    let mut table = table(&rows);
    if !refs.is_empty() {
        table.push_str("\nFor comparison, the peers' own command-line tools:\n\n");
        table.push_str(&reference_table(&refs));
    }
    println!("{table}");
    if let Some(path) = &args.out {
        let text = format!("{}\n{table}", header(&args, &load_before, &load_after));
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("table written to {}", path.display());
    }
    if let Some(path) = &args.csv {
        std::fs::write(path, csv).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("every run written to {}", path.display());
    }
    let python_failed = rows
        .iter()
        .any(|r| r.python.unavailable.is_some() || !r.python.failures.is_empty());
    // Ours may legitimately be unavailable while the backends are written; a Python agent
    // that fails means the bench itself is broken.
    Ok(if python_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A symlink named after the agent, pointing at our binary (the persona comes from `argv[0]`,
/// as with an installed agent).
fn ours_program(ours: Option<&Path>, scratch: &Path, agent: &str) -> Result<PathBuf, String> {
    let ours = ours.ok_or("no --ours binary given")?;
    let ours =
        std::fs::canonicalize(ours).map_err(|e| format!("{} not built: {e}", ours.display()))?;
    let link = scratch.join("bin").join(agent);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&ours, &link)
        .map_err(|e| format!("cannot link {}: {e}", link.display()))?;
    Ok(link)
}

fn python_program(dir: &Path, agent: &str) -> Result<PathBuf, String> {
    let p = dir.join(agent);
    if p.exists() {
        Ok(p)
    } else {
        Err(format!(
            "{} is missing: run tests/scripts/install-deps.sh",
            p.display()
        ))
    }
}

fn bench_op(
    args: &Args,
    rt: &tokio::runtime::Runtime,
    scratch: &Path,
    target: &mut Target,
    op: Op,
    programs: &[Result<PathBuf, String>; 2],
    csv: &mut String,
) -> Row {
    let mut res = [ImplResult::default(), ImplResult::default()];
    let direct = target.options(op, false);
    let relayed = target.options(op, target.has_relay());
    let inv = |i: usize, stdin: &str| -> Option<Invocation> {
        programs[i].as_ref().ok().map(|p| Invocation {
            program: p.clone(),
            args: Vec::new(),
            stdin: stdin.to_owned(),
        })
    };
    for (i, p) in programs.iter().enumerate() {
        if let Err(why) = p {
            res[i].unavailable = Some(why.clone());
        }
    }
    let prepare = |target: &Target| -> Result<(), String> {
        match op.prepared() {
            Some(want) => target
                .prepare(want)
                .map_err(|e| format!("prepare failed: {e}")),
            None => Ok(()),
        }
    };

    // Warm-up: caches, and whether this implementation works at all. When every warm-up run
    // fails it is "not available"; a warm-up run that fails among good ones is a failure
    // like any other (shown in the table, and it voids the ratio).
    let warmups = args.warmup.max(1);
    for i in [OURS, PYTHON] {
        if res[i].unavailable.is_some() {
            continue;
        }
        let Some(inv) = inv(i, &direct) else { continue };
        let mut failed = Vec::new();
        for _ in 0..warmups {
            let outcome = prepare(target).and_then(|()| run::timed(&inv));
            let verdict = outcome.and_then(|o| {
                op.check(o.code, &o.stdout)
                    .map_err(|e| format!("{e}; stderr: {}", last_line(&o.stderr)))
            });
            if let Err(e) = verdict {
                failed.push(e);
            }
        }
        if failed.len() == warmups {
            res[i].unavailable = Some(format!("every warm-up run failed: {}", failed[0]));
        } else {
            res[i]
                .failures
                .extend(failed.into_iter().map(|e| format!("warm-up: {e}")));
        }
    }

    // Timed runs, interleaved; the order alternates so neither always runs on a warm peer.
    for iter in 0..args.runs {
        let order = if iter % 2 == 0 {
            [OURS, PYTHON]
        } else {
            [PYTHON, OURS]
        };
        for i in order {
            if res[i].unavailable.is_some() {
                continue;
            }
            let Some(inv) = inv(i, &direct) else { continue };
            if let Err(e) = prepare(target) {
                res[i].failures.push(e);
                continue;
            }
            match run::timed(&inv) {
                Ok(o) => {
                    let ok = op.check(o.code, &o.stdout);
                    let wall = o.wall.as_secs_f64() * 1000.0;
                    let _ = writeln!(
                        csv,
                        "{},{},{},timed,{iter},{wall:.3},{},{},,,",
                        target.key,
                        op.action(),
                        NAMES[i],
                        o.code.map_or("signal".to_owned(), |c| c.to_string()),
                        ok.is_ok()
                    );
                    match ok {
                        Ok(()) => res[i].times_ms.push(wall),
                        Err(e) => res[i]
                            .failures
                            .push(format!("{e}; stderr: {}", last_line(&o.stderr))),
                    }
                }
                Err(e) => res[i].failures.push(e),
            }
        }
    }

    // Observed runs: resources and round trips.
    for k in 0..args.observe {
        for i in [OURS, PYTHON] {
            if res[i].unavailable.is_some() {
                continue;
            }
            let Some(inv) = inv(i, &relayed) else {
                continue;
            };
            if let Err(e) = prepare(target) {
                res[i].failures.push(e);
                continue;
            }
            target.begin();
            let observed = run::observed(&inv, scratch);
            let trips = target.end(rt.handle(), op);
            match (observed, trips) {
                (Ok((o, usage)), Ok(trips)) => {
                    let ok = op.check(o.code, &o.stdout);
                    let _ = writeln!(
                        csv,
                        "{},{},{},observed,{k},{:.3},{},{},{},{:.3},\"{trips}\"",
                        target.key,
                        op.action(),
                        NAMES[i],
                        o.wall.as_secs_f64() * 1000.0,
                        o.code.map_or("signal".to_owned(), |c| c.to_string()),
                        ok.is_ok(),
                        usage.max_rss_kib,
                        usage.cpu_s
                    );
                    match ok {
                        Ok(()) => {
                            res[i].usage.push(usage);
                            res[i].trips.push(trips);
                        }
                        Err(e) => res[i].failures.push(format!(
                            "observed run: {e}; stderr: {}",
                            last_line(&o.stderr)
                        )),
                    }
                }
                (Err(e), _) | (_, Err(e)) => res[i].failures.push(format!("observed run: {e}")),
            }
        }
    }

    let [ours, python] = res;
    Row {
        target: format!("{} · {}", target.agent, target.peer),
        op,
        ours,
        python,
    }
}

/// Times the peer's own tool doing one status read (on a machine that is on).
fn bench_reference(args: &Args, target: &Target) -> Reference {
    let (tool, inv) = target.reference();
    let mut r = Reference {
        target: format!("{} · {}", target.agent, target.peer),
        tool,
        times_ms: Vec::new(),
        failures: 0,
    };
    if target.prepare(bench::targets::Power::On).is_err() {
        r.failures = args.runs;
        return r;
    }
    for i in 0..args.warmup + args.runs {
        match run::timed(&inv) {
            Ok(o) if o.code == Some(0) => {
                if i >= args.warmup {
                    r.times_ms.push(o.wall.as_secs_f64() * 1000.0);
                }
            }
            _ => r.failures += 1,
        }
    }
    r
}

fn last_line(s: &str) -> &str {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
}

fn progress_line(r: &Row) -> String {
    let one = |i: &ImplResult| {
        if let Some(why) = &i.unavailable {
            return format!("not available: {why}");
        }
        let med = bench::report::Stats::of(&i.times_ms)
            .map_or("-".to_owned(), |s| format!("{} ms", ms(s.median)));
        let trips = i.trips.first().map_or(String::new(), |t| format!(", {t}"));
        let failed = if i.failures.is_empty() {
            String::new()
        } else {
            format!(", {} FAILED: {}", i.failures.len(), i.failures[0])
        };
        format!("{med}{trips}{failed}")
    };
    format!(
        "{} {}: ours {} | python {}",
        r.target,
        r.op.action(),
        one(&r.ours),
        one(&r.python)
    )
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// What the run was: machine, versions, settings, load.
fn header(args: &Args, load_before: &str, load_after: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let tool = |p: &str, a: &[&str]| {
        run::helper(p, a, std::time::Duration::from_secs(10))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned())
    };
    let fence_agents = tool("dpkg-query", &["-W", "-f", "${Version}", "fence-agents"]);
    // "-dirty": the binaries were built from a work tree with uncommitted changes
    let commit = tool("git", &["describe", "--always", "--dirty"]);
    let date = tool("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    format!(
        "Run {date} on {cores} cores ({cpu}), Linux {kernel}; fence-rs commit {commit}, \
         Debian fence-agents {fence_agents}.\n\
         {} timed runs per implementation and action (after {} warm-up), interleaved; \
         {} observed runs for RSS and round trips. Load average (1/5/15 min) {load_before} \
         at the start, {load_after} at the end.\n",
        args.runs,
        args.warmup.max(1),
        args.observe
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, String> {
        Args::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn defaults_and_overrides() {
        let a = parse("").unwrap();
        assert_eq!((a.runs, a.warmup, a.observe), (15, 2, 3));
        assert_eq!(
            a.targets,
            ["redfish", "ipmisim", "fakebmc", "vbox", "virsh"]
        );
        let a = parse("--fence-sim /x").unwrap();
        assert_eq!(
            a.targets,
            ["redfish", "fencesim", "ipmisim", "fakebmc", "vbox", "virsh"]
        );
        assert_eq!(a.ops, Op::ALL.to_vec());
        let a = parse("--runs 5 --ops status,off --targets vbox").unwrap();
        assert_eq!(a.runs, 5);
        assert_eq!(a.ops, vec![Op::Status, Op::Off]);
        assert_eq!(a.targets, vec!["vbox".to_owned()]);
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(parse("--ops dance").is_err());
        assert!(parse("--runs many").is_err());
        assert!(parse("--runs").is_err());
        assert!(parse("--frobnicate 1").is_err());
    }
}
