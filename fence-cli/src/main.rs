//! `fence-agent`: one binary that speaks the ClusterLabs fence-agents protocol under many
//! names (fence_ipmilan and its aliases, fence_redfish, fence_vbox), for Pacemaker,
//! pcs, crmsh and people at a shell.
//!
//! The persona comes from the program name (`basename(argv[0])`): an agent name, or one of
//! our own installed names `<prefix><agent without fence_>` such as `fence_rs_ipmilan`.
//! Called as `fence-agent`, the first argument names the agent
//! (`fence-agent fence_ipmilan -o status ...`), or is one of `install`, `--list-agents`,
//! `--help`, `--version`. See README.md.
#![forbid(unsafe_code)]

mod agents;
mod alert;
mod backends;
mod events;
mod input;
mod install;
mod log_file;
mod logging;
mod metadata;
mod run;
mod script;
mod validate;

use agents::Agent;

fn usage() -> String {
    let mut s = String::from(
        "Usage:\n\
         \tfence-agent AGENT [agent options]     run as AGENT (options on argv, or on stdin when none)\n\
         \tfence_<agent> [agent options]         the same, through a link named after the agent\n\
         \tfence-agent install --dir DIR [--prefix fence_rs_] [--force]\n\
         \t                                      create one link per agent in DIR\n\
         \tfence-agent alert                     Pacemaker alert agent (CRM_alert_* to a JSON line)\n\
         \tfence-agent install-alert --dir DIR [--name fence_rs_alert] [--force]\n\
         \t                                      link DIR/NAME here; that name selects alert mode\n\
         \tfence-agent --list-agents             print the agent names\n\
         \tfence-agent -V | --version\n\
         Agents:\n",
    );
    for a in agents::all() {
        s.push('\t');
        s.push_str(a.name);
        s.push('\n');
    }
    s.push_str("Run 'fence-agent AGENT --help' for the options of an agent.\n");
    s
}

fn main() {
    let code = real_main();
    logging::finish(log_file::OPEN_BOUND);
    std::process::exit(code);
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
        eprint!("{}", usage());
        return 1;
    }
    let first = args.remove(1);
    match first.as_str() {
        "alert" => alert::run(&args[1..]),
        "install-alert" => alert::install_main(&args[1..]),
        "install" => match install::parse(&args[1..]).and_then(|o| install::install(&o)) {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                0
            }
            Err(e) => {
                eprintln!("{e}");
                1
            }
        },
        "--list-agents" | "list-agents" => {
            for a in agents::all() {
                println!("{}", a.name);
            }
            0
        }
        "-h" | "--help" | "help" => {
            print!("{}", usage());
            0
        }
        "-V" | "--version" => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            0
        }
        name => match Agent::from_program_name(name) {
            Some(agent) => run::run_agent(agent, name, &args[1..]),
            None => {
                eprintln!("fence-agent: unknown agent '{name}'\n");
                eprint!("{}", usage());
                1
            }
        },
    }
}
