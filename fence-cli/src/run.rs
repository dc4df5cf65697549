//! One run of an agent: read the options, answer the documentation actions, check the
//! arguments, build the device, let the engine run the action, print fence-agents' exact
//! result and return its exit code.
//!
//! Exit codes: 0 success, 2 only for `status` OFF, 1 for every failure (with a
//! `Failed: ...` line naming the cause, then fence-agents' own message for it).

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use fence_core::params::{Options, parse_bool};
use fence_core::{
    Action, Engine, Error, ErrorKind, FenceDevice, Outcome, PowerState, Request, Timing,
};

use crate::agents::{Agent, is_sensitive};
use crate::input::{Input, Spelling, parse_args, parse_stdin};
use crate::logging::{self, LogConfig, early, fail, fail_usage, flush_early};
use crate::script::ShellScript;
use crate::wording::{EC_LOGIN_DENIED, EC_STATUS, EC_TIMED_OUT, REPEATED_BELOW, failed_line};
use crate::{metadata, validate};
use fence_core::agent::FailureLine;

/// How long a `password_script` may run.
const PASSWORD_SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);
/// The bound on closing the device after the action (each backend also bounds its own
/// requests; this one covers a backend blocked in a call).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// The bound on closing the device after SIGTERM or SIGINT.
const INTERRUPTED_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs `agent` (invoked as `invoked`) with the arguments after the program name; returns
/// the exit code.
pub(crate) fn run_agent(agent: Agent, invoked: &str, args: &[String]) -> i32 {
    let started = Instant::now();
    let table = agent.table();
    let input = if args.is_empty() {
        let mut bytes = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut bytes);
        parse_stdin(&agent, table, &String::from_utf8_lossy(&bytes))
    } else {
        match parse_args(&agent, table, args) {
            Ok(input) => input,
            Err(failure) => {
                early("ERROR", &format!("{}\n", failure.0));
                early("ERROR", "Please use '-h' for usage\n");
                flush_early();
                return 1;
            }
        }
    };
    register_secrets(&input.options);
    flush_early();

    let o = &input.options;
    if o.flag("help") {
        return print(&metadata::usage(&agent, invoked));
    }
    let action_text = o.get("action").unwrap_or("reboot").to_ascii_lowercase();
    let action = action_text.parse::<Action>().ok();
    if matches!(action, Some(Action::Metadata | Action::Manpage)) {
        let manpage = action == Some(Action::Manpage);
        return print(&metadata::render(&agent, invoked, manpage));
    }
    if o.flag("version") {
        return print(&format!("{}\n", env!("CARGO_PKG_VERSION")));
    }

    setup_logging(&input, invoked);

    let action = match action.filter(|a| agent.accepts(*a)) {
        Some(a) => a,
        None => {
            // The action is echoed input: text from outside.
            fail_usage(&format!(
                "Failed: Unrecognised action '{}'",
                logging::scrub_outside(&action_text)
            ));
            return 1;
        }
    };
    let failures = validate::check(&agent, &input, action);
    if action == Action::ValidateAll {
        if failures.is_empty() {
            return 0;
        }
        for f in &failures {
            tracing::error!("{f}\n");
        }
        fail_usage("validate-all failed");
        return 1;
    }
    if let Some(first) = failures.first() {
        fail_usage(first);
        return 1;
    }
    if let Some(path) = o.non_empty("debug_file") {
        match crate::log_file::open_append(std::path::Path::new(path), crate::log_file::OPEN_BOUND)
        {
            Ok(file) => logging::attach_debug_file(file),
            // Fencing never waits on logging: a file system that does not answer costs the
            // bound, and the run goes on without the file.
            Err(e @ crate::log_file::OpenError::TimedOut(_)) => {
                let path = logging::scrub_outside(path);
                tracing::warn!("debug_file: cannot open {path}: {e}; going on without it");
            }
            Err(e) => {
                // The path is echoed input; the reason is ours or the system's fixed wording.
                let path = logging::scrub_outside(path);
                tracing::error!("Unable to create file {path}: {e}");
                fail_usage(&format!("Failed: Unable to create file {path}: {e}"));
                return 1;
            }
        }
    }

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            fail(&format!("Failed: cannot start the runtime: {e}"));
            return 1;
        }
    };
    let code = runtime.block_on(run_action(agent, invoked, input, action, started));
    // A blocking device call (ssh2) cut short by a signal or a bound may still be running:
    // do not wait for it.
    runtime.shutdown_background();
    code
}

/// Registers the values of every sensitive option, so that no output ever shows them.
fn register_secrets(options: &Options) {
    for (name, value) in options.explicit() {
        if options.table().get(name).is_some_and(is_sensitive) {
            logging::add_secret(value);
        }
    }
}

fn print(text: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// `verbose`, `verbose_level`, `quiet` as fence-agents' `check_input` reads them.
fn setup_logging(input: &Input, ident: &str) {
    let o = &input.options;
    let mut level = match o.integer("verbose_level") {
        Ok(Some(n)) => n,
        Ok(None) => 0,
        Err(_) => -1,
    };
    if input.invalid.contains("verbose_level") {
        level = -1;
    }
    if level < 0 {
        early(
            "WARNING",
            "Parse error: Option 'verbose_level' must be an integer greater than or equal to 0. Setting verbose_level to 0.",
        );
        flush_early();
        level = 0;
    }
    // fence-agents tests for the presence of `verbose`, so `verbose=0` is also "set".
    if level == 0 && o.is_set("verbose") {
        early(
            "WARNING",
            "Parse error: Ignoring option 'verbose' because it conflicts with verbose_level=0",
        );
        flush_early();
    }
    let verbose = level > 0;
    logging::init(LogConfig {
        ident: ident.to_owned(),
        verbose,
        quiet: o.flag("quiet"),
    });
}

/// Runs the password script (as fence-agents' `os.popen` does, but with its text on a pipe,
/// never in an argv: see [`crate::script`]) and returns its output without trailing
/// whitespace. Its stderr is text from outside: it is written to ours once the password it
/// printed is registered, scrubbed of every secret.
async fn password_from_script(script: &str) -> Result<String, String> {
    let mut shell =
        ShellScript::new(script).map_err(|e| format!("cannot run the password script: {e}"))?;
    shell
        .command()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = shell
        .spawn()
        .map_err(|e| format!("cannot run the password script: {e}"))?;
    match tokio::time::timeout(PASSWORD_SCRIPT_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            let password = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
            logging::add_secret(&password);
            if !out.stderr.is_empty() {
                let text = logging::scrub_outside(&String::from_utf8_lossy(&out.stderr));
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
            Ok(password)
        }
        Ok(Err(e)) => Err(format!("the password script failed: {e}")),
        Err(_) => Err(format!(
            "the password script did not finish within {} s",
            PASSWORD_SCRIPT_TIMEOUT.as_secs()
        )),
    }
}

/// The timing of the engine: the options, fence-agents' delay rule, and the Pacemaker
/// rule for `power_timeout`.
fn timing(options: &Options, started: Instant) -> Result<Timing, Error> {
    let mut t = Timing::from_options(options)?;
    // fence-agents sleeps 1 + delay - (seconds since the agent started).
    if !t.delay.is_zero() {
        t.delay = t
            .delay
            .saturating_add(Duration::from_secs(1))
            .saturating_sub(started.elapsed());
    }
    let pcmk_service = std::env::var("PCMK_service").ok();
    if timeouts_disabled(options, pcmk_service.as_deref()) {
        tracing::debug!(
            "power_timeout disabled (disable_timeout or run by pacemaker-fenced); per-request timeouts stay"
        );
        t.power_timeout = None;
    }
    Ok(t)
}

/// fence-agents' `disable_timeout`: given explicitly, its value decides; otherwise it is on
/// when the agent runs under `pacemaker-fenced`.
pub(crate) fn timeouts_disabled(options: &Options, pcmk_service: Option<&str>) -> bool {
    if options.is_set("disable_timeout") {
        return options
            .get("disable_timeout")
            .and_then(parse_bool)
            .unwrap_or(false);
    }
    pcmk_service == Some("pacemaker-fenced")
}

async fn run_action(
    agent: Agent,
    invoked: &str,
    mut input: Input,
    action: Action,
    started: Instant,
) -> i32 {
    let mut interrupts = Interrupts::install();
    if let Some(script) = input
        .options
        .non_empty("password_script")
        .map(str::to_owned)
    {
        match password_from_script(&script).await {
            Ok(password) => {
                let _ = input.options.set("password", &password);
            }
            Err(e) => {
                fail_usage(&format!("Failed: {e}"));
                return 1;
            }
        }
    }
    let nodename = input.nodename.clone();
    let spelling = input.spelling;
    let options = input.options;
    tracing::debug!("{} {action} with options {options:?}", agent.name);

    if matches!(action, Action::List | Action::ListStatus) && !agent.has_plugs() {
        return print("NOTICE: List option is not working on this device yet\n");
    }
    let timing = match timing(&options, started) {
        Ok(t) => t,
        Err(e) => {
            fail_usage(&failed_line(&e, spelling, &agent.table()));
            return 1;
        }
    };
    let device = match (agent.family.build)(&options) {
        Ok(d) => d,
        Err(e) => {
            if e.kind() == ErrorKind::InvalidInput {
                fail_usage(&failed_line(&e, spelling, &agent.table()));
            } else {
                fail(&failed_line(&e, spelling, &agent.table()));
            }
            return 1;
        }
    };
    let request = if agent.has_plugs() {
        Request::split_plugs(
            action,
            options.get("plug").unwrap_or(""),
            options.get("plug_separator").unwrap_or(","),
        )
    } else {
        Request::plugless(action)
    };
    let request = match nodename {
        Some(node) => request.with_node(node),
        None => request,
    };
    let (observer, mut events) = fence_core::events::channel();
    let engine = Engine::new(timing)
        .with_agent_name(invoked)
        .with_observer(observer);
    let result = tokio::select! {
        report = engine.run(device.as_ref(), &request) => Some(report),
        () = interrupts.recv() => None,
    };
    // After a signal, closing (the IPMI or Redfish session) is best effort and short.
    let close_bound = if result.is_some() {
        CLOSE_TIMEOUT
    } else {
        INTERRUPTED_CLOSE_TIMEOUT
    };
    match tokio::time::timeout(close_bound, device.close()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("closing the device: {e}"),
        Err(_) => tracing::debug!(
            "closing the device: gave up after {} s",
            close_bound.as_secs()
        ),
    }
    let Some(report) = result else {
        fail("Failed: Interrupted by a signal");
        return 1;
    };
    tracing::debug!(
        reads = report.reads.len(),
        commands = report.commands.len(),
        elapsed_ms = report.elapsed.as_millis() as u64,
        "{} {action} finished",
        agent.name
    );
    let code = match report.result {
        Ok(outcome) => print_outcome(&options, action, &outcome),
        Err(e) => {
            let cycle = action == Action::Diag
                || (action == Action::Reboot
                    && options
                        .get("method")
                        .is_some_and(|m| m.eq_ignore_ascii_case("cycle")));
            report_failure(&agent, &e, device.as_ref(), cycle, spelling);
            1
        }
    };
    // The result is out: now the event log and the notify command (bounded; they never
    // change the exit code).
    crate::events::deliver_pending(&options, &mut events).await;
    code
}

/// SIGTERM and SIGINT, caught from the start of the run so that a signal always ends it
/// through the normal path (the device is closed, a `Failed:` line is logged).
struct Interrupts {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Interrupts {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        }
    }

    /// Resolves when one of the signals arrives (never, if no handler could be installed).
    async fn recv(&mut self) {
        async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = one(&mut self.term) => {}
            () = one(&mut self.int) => {}
        }
    }
}

/// fence-agents' stdout for a successful outcome, and the exit code.
fn print_outcome(options: &Options, action: Action, outcome: &Outcome) -> i32 {
    let text = match outcome {
        Outcome::PoweredOn => "Success: Powered ON\n".to_owned(),
        Outcome::PoweredOff => "Success: Powered OFF\n".to_owned(),
        Outcome::AlreadyOn => "Success: Already ON\n".to_owned(),
        Outcome::AlreadyOff => "Success: Already OFF\n".to_owned(),
        Outcome::Rebooted { .. } | Outcome::DiagSent => "Success: Rebooted\n".to_owned(),
        Outcome::Status { state } => {
            let code = print(&format!("Status: {}\n", state.as_upper_str()));
            return if code != 0 {
                1
            } else if *state == PowerState::Off {
                2
            } else {
                0
            };
        }
        Outcome::Monitored => String::new(),
        Outcome::Listed { outlets } => {
            let sep = options.get("separator").unwrap_or(",");
            let status = action == Action::ListStatus;
            let mut text = String::new();
            for outlet in outlets {
                text.push_str(&outlet.id);
                text.push_str(sep);
                text.push_str(&outlet.alias);
                if status {
                    text.push_str(sep);
                    text.push_str(outlet.state.map_or("UNKNOWN", PowerState::as_str));
                }
                text.push('\n');
            }
            text
        }
    };
    print(&text)
}

/// Logs a failure: the line naming the cause, then the message fence-agents' agent prints
/// for the same situation (so that tools matching on it keep working), announced as a
/// repetition of that failure ([`REPEATED_BELOW`]).
fn report_failure(
    agent: &Agent,
    e: &Error,
    device: &dyn FenceDevice,
    cycle: bool,
    spelling: Spelling,
) {
    tracing::debug!(backend = device.backend(), address = %device.address(), kind = ?e.kind(), "action failed");
    let table = agent.table();
    match e.kind() {
        ErrorKind::PowerTimeout => fail(&failed_line(e, spelling, &table)),
        ErrorKind::InvalidInput => fail_usage(&failed_line(e, spelling, &table)),
        kind => {
            let line = failed_line(e, spelling, &table);
            let failure = agent.family.failure.line(kind, cycle);
            let repeated = match failure {
                FailureLine::Status => Some(EC_STATUS),
                FailureLine::LoginDenied => Some(EC_LOGIN_DENIED),
                FailureLine::TimedOut => Some(EC_TIMED_OUT),
                FailureLine::Usage(_) | FailureLine::Nothing => None,
            };
            if let Some(message) = repeated {
                // Our line, the announcement, then fence-agents' line exactly as
                // fence-agents prints it.
                tracing::error!("{line}");
                tracing::error!("{REPEATED_BELOW}\n");
                fail(message);
                return;
            }
            tracing::error!("{line}\n");
            match failure {
                FailureLine::Usage("") => fail_usage(""),
                FailureLine::Usage(text) => fail_usage(&format!("Failed: {text}")),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::Agent;

    fn options(text: &str) -> Options {
        let a = Agent::by_name("fence_redfish").expect("agent");
        crate::input::parse_stdin(&a, a.table(), text).options
    }

    #[test]
    fn pacemaker_disables_power_timeout_unless_disable_timeout_is_given() {
        let fenced = Some("pacemaker-fenced");
        assert!(!timeouts_disabled(&options(""), None));
        assert!(!timeouts_disabled(&options(""), Some("stonith_admin")));
        assert!(timeouts_disabled(&options(""), fenced));
        assert!(!timeouts_disabled(
            &options("disable_timeout=false\n"),
            fenced
        ));
        assert!(!timeouts_disabled(&options("disable_timeout=0\n"), fenced));
        assert!(timeouts_disabled(&options("disable_timeout=yes\n"), None));
    }

    #[test]
    fn timing_keeps_the_call_bound_when_power_timeout_is_off() {
        let o = options("disable_timeout=1\npower_timeout=5\n");
        let t = timing(&o, Instant::now()).expect("timing");
        assert_eq!(t.power_timeout, None);
        assert!(t.call_timeout > Duration::ZERO);
        let o = options("power_timeout=5\ndelay=2\n");
        let t = timing(&o, Instant::now()).expect("timing");
        assert_eq!(t.power_timeout, Some(Duration::from_secs(5)));
        // fence-agents sleeps 1 + delay - elapsed.
        assert!(t.delay > Duration::from_millis(2900) && t.delay <= Duration::from_secs(3));
    }
}
