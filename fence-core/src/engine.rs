//! The fencing engine: the one place that knows how fencing is done safely.
//!
//! Given a device, the plugs and the timing options, the engine runs an action with
//! fence-agents' semantics and returns a [`Report`] with its evidence:
//!
//! - the state is read first (`on`/`off` answer "already" when it is in the target state);
//! - a set is followed by `power_wait` and then by status reads until every plug is in the
//!   target state or `power_timeout` passes; the first read comes right after the set and
//!   the interval then doubles from [`Timing::first_poll`] up to `stonith_status_sleep`
//!   (fence-agents sleeps `stonith_status_sleep` between every two reads);
//! - `on` gets `1 + retry_on` attempts; reboot's on phase gets `retry_on` attempts, and a
//!   failed on phase after a verified off still counts as rebooted (the node is fenced);
//! - `delay` is served before the first device contact, for `off` and `reboot` only;
//! - **nothing but a status read of Off makes `off` or `reboot` succeed**. The only
//!   exception is `method=cycle`, whose off phase no status read can see (as in
//!   fence-agents); its report says `off_verified: false`.
//!
//! Three improvements over fence-agents: a set that the device refuses is followed by one
//! status read, so a device that refuses to switch off a machine that is already off (HPE
//! iLO answers HTTP 400) is settled by the read instead of failing; a set refused as
//! [`Busy`](crate::ErrorKind::Busy) (a VM that is still starting or saving) is sent again
//! until `power_timeout` passes, never taken for done; and `method=cycle` on a
//! machine that is already off (which many BMCs refuse, fence-agents#596) powers it on
//! instead, since the off state was just read.
//!
//! The engine uses tokio's clock, so tests can run it under `tokio::time::pause`.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::device::FenceDevice;
use crate::error::{Error, Result};
use crate::events::{FenceEvent, Observer};
use crate::params::{Options, common};
use crate::power::{Action, Outcome, PowerState, RebootMethod};

/// Timing options of the engine, with fence-agents' names and defaults.
///
/// Build it with struct update syntax so that new fields keep their defaults:
/// `Timing { power_wait: Duration::from_secs(2), ..Timing::default() }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    /// How long to wait for the target state after a set (`power_timeout`, 20 s); `None`
    /// waits until the caller gives up (`disable_timeout`).
    pub power_timeout: Option<Duration>,
    /// Pause after each set before the first status read (`power_wait`, 0 s).
    pub power_wait: Duration,
    /// The longest pause between two status reads (`stonith_status_sleep`, 1 s).
    pub status_sleep: Duration,
    /// The first pause between two status reads; it doubles up to `status_sleep`. Set it
    /// equal to `status_sleep` for fence-agents' fixed interval.
    pub first_poll: Duration,
    /// Extra power-on attempts (`retry_on`, 1).
    pub retry_on: u32,
    /// Pause before the first device contact of `off` and `reboot` (`delay`, 0 s).
    pub delay: Duration,
    /// How reboot is done (`method`, onoff).
    pub method: RebootMethod,
    /// Upper bound on any single device call, so that a backend that hangs cannot hang the
    /// engine (60 s).
    pub call_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            power_timeout: Some(Duration::from_secs(20)),
            power_wait: Duration::ZERO,
            status_sleep: Duration::from_secs(1),
            first_poll: Duration::from_millis(50),
            retry_on: 1,
            delay: Duration::ZERO,
            method: RebootMethod::OnOff,
            call_timeout: Duration::from_secs(60),
        }
    }
}

impl Timing {
    /// Reads `power_timeout`, `power_wait`, `stonith_status_sleep`, `retry_on`, `delay` and
    /// `method` from parsed options (missing rows keep the defaults). A `power_timeout` of
    /// 0 means no timeout, as in fence-agents.
    pub fn from_options(options: &Options) -> Result<Timing> {
        let mut t = Timing::default();
        if let Some(d) = options.seconds(common::POWER_TIMEOUT.name)? {
            t.power_timeout = (!d.is_zero()).then_some(d);
        }
        if let Some(d) = options.seconds(common::POWER_WAIT.name)? {
            t.power_wait = d;
        }
        if let Some(d) = options.seconds(common::STONITH_STATUS_SLEEP.name)? {
            t.status_sleep = d;
        }
        if let Some(n) = options.integer(common::RETRY_ON.name)? {
            t.retry_on = u32::try_from(n.max(0)).unwrap_or(u32::MAX);
        }
        if let Some(d) = options.seconds(common::DELAY.name)? {
            t.delay = d;
        }
        if let Some(m) = options.get(common::METHOD.name).filter(|m| !m.is_empty()) {
            t.method = m.parse()?;
        }
        t.first_poll = t.first_poll.min(t.status_sleep);
        Ok(t)
    }
}

/// What to run: an action on zero or more plugs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The action.
    pub action: Action,
    /// The plugs; empty for devices without plugs.
    pub plugs: Vec<String>,
    /// The node being fenced, for events (Pacemaker's `nodename`).
    pub node: Option<String>,
}

impl Request {
    /// A request for `action` on the given plugs.
    pub fn new(action: Action, plugs: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Request {
            action,
            plugs: plugs.into_iter().map(Into::into).collect(),
            node: None,
        }
    }

    /// A request for a device without plugs.
    pub fn plugless(action: Action) -> Self {
        Request {
            action,
            plugs: Vec::new(),
            node: None,
        }
    }

    /// The same request, naming the node being fenced (for events).
    pub fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    /// A request whose plug value is split on `separator`, as fence-agents splits `plug`
    /// on `plug_separator`.
    pub fn split_plugs(action: Action, plug: &str, separator: &str) -> Self {
        let plugs = if plug.is_empty() {
            Vec::new()
        } else if separator.is_empty() {
            vec![plug.to_owned()]
        } else {
            plug.split(separator).map(str::to_owned).collect()
        };
        Request {
            action,
            plugs,
            node: None,
        }
    }
}

/// One status read: which plug, what it said, when.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct StateRead {
    /// The plug read (`""` for devices without plugs).
    pub plug: String,
    /// The state the device reported.
    pub state: PowerState,
    /// When, counted from the start of the run.
    pub at: Duration,
}

/// A command sent to the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Command {
    /// Switch on.
    On,
    /// Switch off.
    Off,
    /// Power cycle.
    Cycle,
    /// Diagnostic interrupt.
    Diag,
}

/// One command sent: which plug, which command, when, and whether the device accepted it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CommandSent {
    /// The plug (`""` for devices without plugs).
    pub plug: String,
    /// The command.
    pub command: Command,
    /// When, counted from the start of the run.
    pub at: Duration,
    /// Whether the device accepted it.
    pub accepted: bool,
}

/// The result of a run and its evidence.
#[derive(Debug)]
#[non_exhaustive]
pub struct Report {
    /// The action run.
    pub action: Action,
    /// The plugs it ran on.
    pub plugs: Vec<String>,
    /// What was achieved, or why not.
    pub result: Result<Outcome>,
    /// Every status read, in order.
    pub reads: Vec<StateRead>,
    /// Every command sent, in order.
    pub commands: Vec<CommandSent>,
    /// Set-and-verify attempts made (on and off phases together).
    pub attempts: u32,
    /// The error of a failed on phase of a reboot (the reboot still succeeded).
    pub on_phase_error: Option<String>,
    /// Wall-clock start of the run.
    pub started_at: SystemTime,
    /// How long the run took.
    pub elapsed: Duration,
}

impl Report {
    /// True when the action succeeded.
    pub fn is_success(&self) -> bool {
        self.result.is_ok()
    }

    /// True when a status read after the last off command (or the first read) saw every
    /// plug off: the evidence that the node is fenced.
    pub fn off_verified(&self) -> bool {
        let plugs: Vec<&str> = if self.plugs.is_empty() {
            vec![""]
        } else {
            self.plugs.iter().map(String::as_str).collect()
        };
        let last_off_cmd = self
            .commands
            .iter()
            .filter(|c| c.command == Command::Off)
            .map(|c| c.at)
            .max();
        plugs.iter().all(|plug| {
            self.reads.iter().any(|r| {
                r.plug == *plug
                    && r.state == PowerState::Off
                    && last_off_cmd.is_none_or(|t| r.at >= t)
            })
        })
    }

    /// Turns the report into its outcome.
    pub fn into_result(self) -> Result<Outcome> {
        self.result
    }
}

/// Runs actions against devices. Cheap to clone.
#[derive(Clone, Default)]
pub struct Engine {
    timing: Timing,
    agent: Option<String>,
    observers: Vec<Observer>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("timing", &self.timing)
            .field("agent", &self.agent)
            .field("observers", &self.observers.len())
            .finish()
    }
}

/// The evidence being collected during one run.
struct Run<'a> {
    device: &'a dyn FenceDevice,
    timing: &'a Timing,
    plugs: Vec<String>,
    start: Instant,
    reads: Vec<StateRead>,
    commands: Vec<CommandSent>,
    attempts: u32,
    on_phase_error: Option<String>,
}

impl Engine {
    /// An engine with these timing options.
    pub fn new(timing: Timing) -> Self {
        Engine {
            timing,
            agent: None,
            observers: Vec::new(),
        }
    }

    /// Names the agent in the events this engine emits (`fence_ipmilan`).
    pub fn with_agent_name(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// Adds an observer that hears about every action this engine runs (see
    /// [`crate::events`]).
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observers.push(observer);
        self
    }

    /// The timing options.
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// Runs `request` against `device` and reports what happened. Never panics; every
    /// failure is in [`Report::result`]. Does not close the device.
    pub async fn run(&self, device: &dyn FenceDevice, request: &Request) -> Report {
        let started_at = SystemTime::now();
        // A device without plugs is addressed with the one plug "".
        let plugs = if request.plugs.is_empty() {
            vec![String::new()]
        } else {
            request.plugs.clone()
        };
        let mut run = Run {
            device,
            timing: &self.timing,
            plugs,
            start: Instant::now(),
            reads: Vec::new(),
            commands: Vec::new(),
            attempts: 0,
            on_phase_error: None,
        };
        let result = run.action(request.action).await;
        let report = Report {
            action: request.action,
            plugs: request.plugs.clone(),
            result,
            elapsed: run.start.elapsed(),
            reads: run.reads,
            commands: run.commands,
            attempts: run.attempts,
            on_phase_error: run.on_phase_error,
            started_at,
        };
        self.emit(device, request, &report);
        report
    }

    fn emit(&self, device: &dyn FenceDevice, request: &Request, report: &Report) {
        let address = device.address();
        let event = FenceEvent::from_report(
            report,
            self.agent.as_deref(),
            device.backend(),
            &address,
            request.node.as_deref(),
        );
        tracing::info!(
            target: "fence_event",
            agent = event.agent.as_deref().unwrap_or(""),
            backend = %event.backend,
            device = %event.device,
            node = event.node.as_deref().unwrap_or(""),
            action = %event.action,
            result = event.result_word(),
            off_verified = event.off_verified,
            attempts = event.attempts,
            duration_ms = event.duration_ms,
            "fence event"
        );
        for observer in &self.observers {
            observer(&event);
        }
    }
}

impl Run<'_> {
    async fn action(&mut self, action: Action) -> Result<Outcome> {
        let caps = self.device.capabilities();
        if caps.plugs && self.plugs.iter().all(String::is_empty) && needs_plug(action) {
            return Err(Error::missing(common::PLUG.name));
        }
        if action.is_fencing() && !self.timing.delay.is_zero() {
            tracing::debug!(delay = ?self.timing.delay, "delay before fencing");
            tokio::time::sleep(self.timing.delay).await;
        }
        match action {
            Action::Status => {
                let states = self.read_all().await?;
                let state = if states.contains(&PowerState::On) {
                    PowerState::On
                } else {
                    PowerState::Off
                };
                Ok(Outcome::Status { state })
            }
            Action::On => self.switch(PowerState::On).await,
            Action::Off => self.switch(PowerState::Off).await,
            Action::Reboot => self.reboot().await,
            Action::Diag => self.diag().await,
            Action::List | Action::ListStatus => {
                if !caps.list {
                    return Err(Error::unsupported(
                        "List option is not working on this device yet",
                    ));
                }
                let outlets = self.call(self.device.list()).await?;
                Ok(Outcome::Listed { outlets })
            }
            Action::Monitor => {
                self.call(self.device.monitor()).await?;
                Ok(Outcome::Monitored)
            }
            Action::Metadata | Action::Manpage | Action::ValidateAll => Err(Error::unsupported(
                format!("{action} does not contact the device; the CLI answers it"),
            )),
        }
    }

    /// `on` or `off`: read, then set and verify unless already there.
    async fn switch(&mut self, target: PowerState) -> Result<Outcome> {
        let states = self.read_all().await?;
        if states.iter().all(|s| *s == target) {
            return Ok(match target {
                PowerState::On => Outcome::AlreadyOn,
                PowerState::Off => Outcome::AlreadyOff,
            });
        }
        let attempts = match target {
            PowerState::On => 1 + self.timing.retry_on,
            PowerState::Off => 1,
        };
        self.set_and_verify(target, attempts).await?;
        Ok(match target {
            PowerState::On => Outcome::PoweredOn,
            PowerState::Off => Outcome::PoweredOff,
        })
    }

    async fn reboot(&mut self) -> Result<Outcome> {
        let states = self.read_all().await?;
        let already_off = states.iter().all(|s| *s == PowerState::Off);
        if self.timing.method == RebootMethod::Cycle && !already_off {
            return self.cycle().await;
        }
        if !already_off {
            self.set_and_verify(PowerState::Off, 1).await?;
        }
        // The node is fenced now: a status read said Off. The on phase may fail.
        if let Err(e) = self
            .set_and_verify(PowerState::On, self.timing.retry_on)
            .await
        {
            tracing::error!("{e}");
            self.on_phase_error = Some(e.to_string());
            return Ok(Outcome::Rebooted {
                off_verified: true,
                power_on_failed: true,
            });
        }
        Ok(Outcome::Rebooted {
            off_verified: true,
            power_on_failed: false,
        })
    }

    /// `method=cycle` on a machine that is on: one cycle command, `1 + retry_on` attempts.
    async fn cycle(&mut self) -> Result<Outcome> {
        if !self.device.capabilities().power_cycle {
            return Err(Error::unsupported(format!(
                "{}: method=cycle (power cycle)",
                self.device.backend()
            )));
        }
        // Up to 1 + retry_on cycles, as fence-agents' multi_reboot_cycle_fn; a refusal that
        // meets the same answer again (a login refusal, an HTTP 400) is not sent again.
        let mut last = None;
        for _ in 0..1 + self.timing.retry_on {
            self.attempts += 1;
            match self.send_all(Command::Cycle).await {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => {
                    let again = e.is_retryable();
                    last = Some(e);
                    if !again {
                        break;
                    }
                }
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
        if !self.timing.power_wait.is_zero() {
            tokio::time::sleep(self.timing.power_wait).await;
        }
        Ok(Outcome::Rebooted {
            off_verified: false,
            power_on_failed: false,
        })
    }

    async fn diag(&mut self) -> Result<Outcome> {
        if !self.device.capabilities().diag {
            return Err(Error::unsupported(format!(
                "{}: diag",
                self.device.backend()
            )));
        }
        self.read_all().await?;
        self.send_all(Command::Diag).await?;
        Ok(Outcome::DiagSent)
    }

    /// Up to `attempts` rounds of: set the plugs not yet in `target`, wait `power_wait`,
    /// poll until all are in `target` or `power_timeout` passes.
    async fn set_and_verify(&mut self, target: PowerState, attempts: u32) -> Result<()> {
        let mut last_error = Error::PowerTimeout { target };
        for _ in 0..attempts {
            self.attempts += 1;
            match self.attempt(target).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::debug!(error = %e, "power {} attempt failed", target.as_upper_str());
                    let stop = target == PowerState::Off || !e.is_retryable();
                    last_error = e;
                    if stop {
                        break;
                    }
                }
            }
        }
        Err(last_error)
    }

    async fn attempt(&mut self, target: PowerState) -> Result<()> {
        let command = match target {
            PowerState::On => Command::On,
            PowerState::Off => Command::Off,
        };
        let plugs = self.plugs.clone();
        for plug in &plugs {
            if self.last_state(plug) == Some(target) {
                continue;
            }
            self.send_settled(plug, command, target).await?;
            if !self.timing.power_wait.is_zero() {
                tokio::time::sleep(self.timing.power_wait).await;
            }
        }
        self.poll_until(target).await
    }

    /// Sends `command` to `plug` until the device takes it. A refusal is settled by a read:
    /// a device may refuse to switch a machine that already is where we want it (iLO: 400
    /// for ForceOff on a machine that is off), and only a read decides. A [`Busy`] refusal
    /// (a VM that is starting, stopping, saving) is sent again, with the polling intervals,
    /// until `power_timeout` passes; any other refusal fails at once.
    ///
    /// [`Busy`]: crate::ErrorKind::Busy
    async fn send_settled(
        &mut self,
        plug: &str,
        command: Command,
        target: PowerState,
    ) -> Result<()> {
        let deadline = self.power_deadline();
        let mut interval = self.timing.first_poll.min(self.timing.status_sleep);
        loop {
            let Err(refused) = self.send(plug, command).await else {
                return Ok(());
            };
            let state = self.read(plug).await?;
            if state == target {
                tracing::info!(plug = %plug, "set refused, but the state already is {}", target);
                return Ok(());
            }
            if refused.kind() != crate::error::ErrorKind::Busy {
                return Err(refused);
            }
            tracing::info!(plug = %plug, "{refused}; sending it again");
            let now = Instant::now();
            let pause = match deadline {
                Some(deadline) if now >= deadline => {
                    tracing::error!(plug = %plug, "{refused}");
                    return Err(Error::PowerTimeout { target });
                }
                Some(deadline) => interval.min(deadline - now),
                None => interval,
            };
            tokio::time::sleep(pause).await;
            interval = self.next_interval(interval);
        }
    }

    /// `power_timeout` from now; `None` without one. A timeout beyond the clock's range
    /// (power_timeout=10000000000000000000) is no timeout at all rather than an overflow
    /// panic.
    fn power_deadline(&self) -> Option<Instant> {
        self.timing
            .power_timeout
            .and_then(|t| Instant::now().checked_add(t))
    }

    /// The pause after `interval`: doubled, up to `stonith_status_sleep`.
    fn next_interval(&self, interval: Duration) -> Duration {
        interval
            .saturating_mul(2)
            .min(self.timing.status_sleep)
            .max(Duration::from_millis(1))
    }

    /// Reads every plug until all are in `target`, with adaptive intervals, bounded by
    /// `power_timeout`.
    async fn poll_until(&mut self, target: PowerState) -> Result<()> {
        let deadline = self.power_deadline();
        let mut interval = self.timing.first_poll.min(self.timing.status_sleep);
        loop {
            let mut all = true;
            let plugs = self.plugs.clone();
            for plug in &plugs {
                if self.read(plug).await? != target {
                    all = false;
                    break;
                }
            }
            if all {
                return Ok(());
            }
            let now = Instant::now();
            if let Some(deadline) = deadline {
                if now >= deadline {
                    return Err(Error::PowerTimeout { target });
                }
                // One last read at the deadline rather than giving up early.
                let pause = interval.min(deadline - now);
                tokio::time::sleep(pause).await;
            } else {
                tokio::time::sleep(interval).await;
            }
            interval = self.next_interval(interval);
        }
    }

    async fn read_all(&mut self) -> Result<Vec<PowerState>> {
        let plugs = self.plugs.clone();
        let mut states = Vec::with_capacity(plugs.len());
        for plug in &plugs {
            states.push(self.read(plug).await?);
        }
        Ok(states)
    }

    async fn read(&mut self, plug: &str) -> Result<PowerState> {
        let state = self.call(self.device.power_state(plug)).await?;
        tracing::debug!(plug, state = state.as_str(), "status read");
        self.reads.push(StateRead {
            plug: plug.to_owned(),
            state,
            at: self.start.elapsed(),
        });
        Ok(state)
    }

    fn last_state(&self, plug: &str) -> Option<PowerState> {
        self.reads
            .iter()
            .rev()
            .find(|r| r.plug == plug)
            .map(|r| r.state)
    }

    async fn send_all(&mut self, command: Command) -> Result<()> {
        let plugs = self.plugs.clone();
        for plug in &plugs {
            self.send(plug, command).await?;
        }
        Ok(())
    }

    async fn send(&mut self, plug: &str, command: Command) -> Result<()> {
        let at = self.start.elapsed();
        let device = self.device;
        let result = match command {
            Command::On => self.call(device.set_power(plug, PowerState::On)).await,
            Command::Off => self.call(device.set_power(plug, PowerState::Off)).await,
            Command::Cycle => self.call(device.power_cycle(plug)).await,
            Command::Diag => self.call(device.diag(plug)).await,
        };
        tracing::debug!(plug, ?command, ok = result.is_ok(), "command sent");
        self.commands.push(CommandSent {
            plug: plug.to_owned(),
            command,
            at,
            accepted: result.is_ok(),
        });
        result
    }

    /// Bounds one device call by `call_timeout`; an error says which backend and address
    /// it came from ([`Error::context`]), unless the backend said so already.
    async fn call<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let result = match tokio::time::timeout(self.timing.call_timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::unreachable(format!(
                "{} at {}: no answer within {:?}",
                self.device.backend(),
                self.device.address(),
                self.timing.call_timeout
            ))),
        };
        result.map_err(|e| e.at(self.device.backend(), self.device.address()))
    }
}

fn needs_plug(action: Action) -> bool {
    !matches!(
        action,
        Action::List
            | Action::ListStatus
            | Action::Monitor
            | Action::Metadata
            | Action::Manpage
            | Action::ValidateAll
    )
}
