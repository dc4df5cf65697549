#![doc = include_str!("../README.md")]
//!
//! ## Where to start
//!
//! [`main_with`] runs the fence-agents protocol for the agent families ([`AgentFamily`])
//! it is given, and returns the exit code: the whole `main` of an agent binary. Nothing
//! here names a backend.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

mod agents;
mod alert;
mod events;
mod input;
mod install;
mod log_file;
mod logging;
mod manpage;
mod metadata;
mod registry;
mod run;
mod script;
mod validate;
mod wording;

pub use fence_core::agent::{AgentFamily, FailureLine, FailureWording, Persona, Plugs};

use agents::Agent;

/// Runs the program as fence-agents would run the agent it is called as, with `families`
/// as the agents it serves (in `--list-agents` order); returns the exit code. Reads
/// `std::env::args()`, stdin and the environment; call it once, from `main`.
pub fn main_with(families: &[&'static AgentFamily]) -> i32 {
    registry::register(families);
    let code = real_main();
    logging::finish(log_file::OPEN_BOUND);
    code
}

/// The usage text of the program called `me`; the descriptions start in one column, after
/// the widest command that shares a line with its description.
fn usage(me: &str) -> String {
    let rows: [(String, &str); 9] = [
        (
            format!("{me} AGENT [agent options]"),
            "run as AGENT (options on argv, or on stdin when none)",
        ),
        (
            "fence_<agent> [agent options]".to_owned(),
            "the same, through a link named after the agent",
        ),
        (
            format!("{me} install --dir DIR [--prefix fence_rs_] [--force]"),
            "create one link per agent in DIR",
        ),
        (
            format!("{me} uninstall --dir DIR [--prefix fence_rs_]"),
            "remove what install made in DIR",
        ),
        (
            format!("{me} man [NAME]"),
            "print the man page of agent NAME (or of this program)",
        ),
        (
            format!("{me} alert"),
            "Pacemaker alert agent (CRM_alert_* to a JSON line)",
        ),
        (
            format!("{me} install-alert --dir DIR [--name fence_rs_alert] [--force]"),
            "link DIR/NAME here; that name selects alert mode",
        ),
        (format!("{me} --list-agents"), "print the agent names"),
        (format!("{me} -V | --version"), ""),
    ];
    // fence-agent's own layout: five spaces after its first command.
    let column = rows[0].0.chars().count().max(rows[1].0.chars().count()) + 5;
    let mut s = String::from("Usage:\n");
    for (command, what) in &rows {
        let width = command.chars().count();
        if what.is_empty() {
            s.push_str(&format!("\t{command}\n"));
        } else if width < column {
            s.push_str(&format!(
                "\t{command}{}{what}\n",
                " ".repeat(column - width)
            ));
        } else {
            s.push_str(&format!("\t{command}\n\t{}{what}\n", " ".repeat(column)));
        }
    }
    s.push_str("Agents:\n");
    for a in agents::all() {
        s.push('\t');
        s.push_str(a.name);
        s.push('\n');
    }
    s.push_str(&format!(
        "Run '{me} AGENT --help' for the options of an agent.\n"
    ));
    s
}

fn real_main() -> i32 {
    let mut args: Vec<String> = std::env::args().collect();
    let program = args
        .first()
        .map(|a| {
            std::path::Path::new(a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    if alert::is_alert_name(&program) {
        return alert::run(&args[1..]);
    }
    if let Some(agent) = Agent::from_program_name(&program) {
        return run::run_agent(agent, &program, &args[1..]);
    }
    if args.len() < 2 {
        eprint!("{}", usage(&program));
        return 1;
    }
    let first = args.remove(1);
    match first.as_str() {
        "alert" => alert::run(&args[1..]),
        "install-alert" => alert::install_main(&args[1..]),
        "install" => report(install::parse(&args[1..]).and_then(|o| install::install(&o))),
        "uninstall" => report(
            install::parse(&args[1..])
                .map_err(|e| e.replacen("install:", "uninstall:", 1))
                .and_then(|o| install::uninstall(&o)),
        ),
        "man" => man_main(&program, &args[1..]),
        "--list-agents" | "list-agents" => {
            for a in agents::all() {
                println!("{}", a.name);
            }
            0
        }
        "-h" | "--help" | "help" => {
            print!("{}", usage(&program));
            0
        }
        "-V" | "--version" => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            0
        }
        name => match Agent::from_program_name(name) {
            Some(agent) => run::run_agent(agent, name, &args[1..]),
            None => {
                eprintln!("{program}: unknown agent '{name}'\n");
                eprint!("{}", usage(&program));
                1
            }
        },
    }
}

/// Prints what install or uninstall did (a closed stdout, `| head`, is not an error:
/// the work is done), or the failure; returns the exit code.
fn report(result: Result<Vec<String>, String>) -> i32 {
    use std::io::Write as _;
    match result {
        Ok(lines) => {
            let mut out = std::io::stdout().lock();
            for l in lines {
                if writeln!(out, "{l}").is_err() {
                    break;
                }
            }
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// `man [NAME]`: the page of agent NAME (an agent name or an installed one such as
/// `fence_rs_ipmilan`), or of this program without NAME.
fn man_main(program: &str, args: &[String]) -> i32 {
    let version = env!("CARGO_PKG_VERSION");
    let names: Vec<String> = agents::all()
        .iter()
        .map(|a| format!("{}{}", agents::DEFAULT_PREFIX, a.suffix()))
        .collect();
    match args {
        [] => {
            print!(
                "{}",
                manpage::render_main(&usage("fence-agent"), version, &names)
            );
            0
        }
        [name] if name == "fence-agent" || name == program => {
            print!(
                "{}",
                manpage::render_main(&usage("fence-agent"), version, &names)
            );
            0
        }
        [name] => match Agent::from_program_name(name) {
            Some(agent) => {
                print!("{}", manpage::render(&agent, name, version));
                0
            }
            None => {
                eprintln!("Failed: man: unknown agent '{name}' (see {program} --list-agents)");
                1
            }
        },
        _ => {
            eprintln!("Failed: man: one agent name at most (usage: {program} man [NAME])");
            1
        }
    }
}
