//! Fencing many targets at once: a rack after a switch failure, a whole cluster rehearsal.
//!
//! [`Many::run`] takes a list of [`Target`]s (a device, the plugs, an action) and runs each
//! through the [`Engine`] concurrently, with two caps:
//!
//! - **overall**: at most [`Limits::overall`] targets in flight at once, whatever their
//!   device (ipmipower's `--fanout`);
//! - **per device**: at most [`Limits::per_device`] targets in flight on one device object
//!   (Pacemaker's `pcmk_action_limit`, 1 by default: a BMC or hypervisor host is asked one
//!   thing at a time).
//!
//! A device is identified by its object: targets that share one `Arc<dyn FenceDevice>`
//! (several VMs on one hypervisor host, several outlets on one switch) share its cap and its
//! session. Two device objects for the same address are two devices with two sessions.
//!
//! Every target gets its own [`Report`], returned in the order of the input. One target's
//! failure (an error, a timeout, even a panic inside a backend) never stops the others.
//! Each device is closed ([`FenceDevice::close`]) as soon as the last of its targets has
//! finished, so sessions are released while the others still run.
//!
//! ```no_run
//! # async fn demo(devices: Vec<std::sync::Arc<dyn fence_core::FenceDevice>>) {
//! use fence_core::many::{Limits, Many, Target};
//! use fence_core::{Action, Engine};
//!
//! let targets = devices
//!     .into_iter()
//!     .map(|d| Target::plugless(d, Action::Off))
//!     .collect();
//! let report = Many::new(Engine::default())
//!     .limits(Limits::default().overall(256))
//!     .run(targets)
//!     .await;
//! for t in &report.targets {
//!     println!("{} {:?} off_verified={}", t.address, t.report.result, t.report.off_verified());
//! }
//! # }
//! ```
//!
//! The targets run as tasks on the current tokio runtime, so `run` must be awaited inside
//! one (any flavour; a multi-thread runtime spreads the work over its workers).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::device::FenceDevice;
use crate::engine::{Engine, Report, Request};
use crate::error::{Error, seconds_text};
use crate::power::Action;

/// One thing to do: an action on some plugs of a device.
#[derive(Clone, Debug)]
pub struct Target {
    /// The device. Targets sharing this `Arc` share the device's cap and session.
    pub device: Arc<dyn FenceDevice>,
    /// The action and plugs.
    pub request: Request,
}

impl Target {
    /// `action` on the given plugs of `device`.
    pub fn new(
        device: Arc<dyn FenceDevice>,
        action: Action,
        plugs: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Target {
            device,
            request: Request::new(action, plugs),
        }
    }

    /// `action` on a device without plugs (one machine per BMC).
    pub fn plugless(device: Arc<dyn FenceDevice>, action: Action) -> Self {
        Target {
            device,
            request: Request::plugless(action),
        }
    }
}

/// Concurrency caps. Both are at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Targets in flight at once, over all devices (default 128).
    pub overall: usize,
    /// Targets in flight at once on one device object (default 1).
    pub per_device: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            overall: 128,
            per_device: 1,
        }
    }
}

impl Limits {
    /// The same limits with another overall cap (0 counts as 1).
    pub fn overall(mut self, n: usize) -> Self {
        self.overall = n.max(1);
        self
    }

    /// The same limits with another per-device cap (0 counts as 1).
    pub fn per_device(mut self, n: usize) -> Self {
        self.per_device = n.max(1);
        self
    }
}

/// The report of one target.
#[derive(Debug)]
#[non_exhaustive]
pub struct TargetReport {
    /// The backend of the device (`ipmi`, `redfish`, ...).
    pub backend: &'static str,
    /// The device's address, for display.
    pub address: String,
    /// What the engine did and found.
    pub report: Report,
}

/// A device whose `close` failed after its targets had finished.
#[derive(Debug)]
pub struct CloseFailure {
    /// The device's address.
    pub address: String,
    /// Why closing failed (the targets' results stand).
    pub error: Error,
}

/// The result of [`Many::run`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ManyReport {
    /// One report per target, in the order of the input.
    pub targets: Vec<TargetReport>,
    /// Devices whose `close` failed. Closing is best effort and does not change the
    /// targets' results.
    pub close_failures: Vec<CloseFailure>,
    /// The most targets that were in flight at the same moment.
    pub peak_in_flight: usize,
    /// From the call to the last device closed.
    pub elapsed: Duration,
}

impl ManyReport {
    /// How many targets succeeded.
    pub fn succeeded(&self) -> usize {
        self.targets
            .iter()
            .filter(|t| t.report.is_success())
            .count()
    }

    /// The targets that failed, with their index in the input.
    pub fn failed(&self) -> impl Iterator<Item = (usize, &TargetReport)> {
        self.targets
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.report.is_success())
    }

    /// True when every target succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.targets.iter().all(|t| t.report.is_success())
    }
}

/// Runs many targets concurrently through one [`Engine`]. Cheap to build; see the
/// [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct Many {
    engine: Engine,
    limits: Limits,
}

/// Per device object: its cap, how many of its targets are left, whether it was closed.
struct DeviceSlot {
    device: Arc<dyn FenceDevice>,
    permits: Arc<Semaphore>,
    remaining: AtomicUsize,
}

/// Counts targets in flight and remembers the peak.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl InFlight {
    fn enter(&self) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What one task hands back.
struct Finished {
    index: usize,
    report: Report,
    close_failure: Option<CloseFailure>,
}

impl Many {
    /// Runs with `engine`'s timing and the default [`Limits`].
    pub fn new(engine: Engine) -> Self {
        Many {
            engine,
            limits: Limits::default(),
        }
    }

    /// The same runner with other limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Limits {
            overall: limits.overall.max(1),
            per_device: limits.per_device.max(1),
        };
        self
    }

    /// Runs every target and returns their reports in input order. Never fails as a whole:
    /// each target's failure is in its own report.
    pub async fn run(&self, targets: Vec<Target>) -> ManyReport {
        let start = Instant::now();
        let overall = Arc::new(Semaphore::new(self.limits.overall));
        let in_flight = Arc::new(InFlight::default());

        // Group by device object (pointer identity of the Arc's data).
        let mut slots: HashMap<usize, Arc<DeviceSlot>> = HashMap::new();
        let mut slot_of = Vec::with_capacity(targets.len());
        for t in &targets {
            let key = Arc::as_ptr(&t.device).cast::<()>() as usize;
            let slot = slots.entry(key).or_insert_with(|| {
                Arc::new(DeviceSlot {
                    device: Arc::clone(&t.device),
                    permits: Arc::new(Semaphore::new(self.limits.per_device)),
                    remaining: AtomicUsize::new(0),
                })
            });
            slot.remaining.fetch_add(1, Ordering::SeqCst);
            slot_of.push(Arc::clone(slot));
        }

        let mut meta: Vec<(&'static str, String, Request)> = Vec::with_capacity(targets.len());
        let mut set = JoinSet::new();
        let mut task_index = HashMap::with_capacity(targets.len());
        for (index, (target, slot)) in targets.into_iter().zip(slot_of).enumerate() {
            meta.push((
                target.device.backend(),
                target.device.address(),
                target.request.clone(),
            ));
            let engine = self.engine.clone();
            let overall = Arc::clone(&overall);
            let in_flight = Arc::clone(&in_flight);
            let handle = set.spawn(async move {
                let report = {
                    // Device first, then the overall cap: a target waiting for its busy
                    // device does not hold an overall slot that another device could use.
                    let _device_permit = slot.permits.acquire().await;
                    let _overall_permit = overall.acquire().await;
                    in_flight.enter();
                    let report = engine.run(slot.device.as_ref(), &target.request).await;
                    in_flight.leave();
                    report
                };
                let close_failure = if slot.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
                    close(slot.device.as_ref(), engine.timing().call_timeout).await
                } else {
                    None
                };
                Finished {
                    index,
                    report,
                    close_failure,
                }
            });
            task_index.insert(handle.id(), index);
        }

        let mut reports: Vec<Option<Report>> = (0..meta.len()).map(|_| None).collect();
        let mut close_failures = Vec::new();
        while let Some(joined) = set.join_next_with_id().await {
            match joined {
                Ok((_, finished)) => {
                    if let Some(slot) = reports.get_mut(finished.index) {
                        *slot = Some(finished.report);
                    }
                    close_failures.extend(finished.close_failure);
                }
                Err(e) => {
                    // A backend panicked. Its target failed; the others go on. Its device
                    // may still be open: the sweep below closes it.
                    if let Some(&index) = task_index.get(&e.id()) {
                        let (backend, address, request) = &meta[index];
                        tracing::error!(backend, address, "fencing task failed: {e}");
                        reports[index] = Some(failed_report(
                            request,
                            Error::misbehaved(format!(
                                "{backend} at {address}: the fencing task failed: {e}"
                            )),
                        ));
                    }
                }
            }
        }

        // Devices whose last target's task panicked before closing them.
        for slot in slots.values() {
            if slot.remaining.load(Ordering::SeqCst) > 0 {
                close_failures
                    .extend(close(slot.device.as_ref(), self.engine.timing().call_timeout).await);
            }
        }

        let targets = meta
            .into_iter()
            .zip(reports)
            .map(|((backend, address, request), report)| TargetReport {
                backend,
                report: report.unwrap_or_else(|| {
                    failed_report(&request, Error::misbehaved("the fencing task was lost"))
                }),
                address,
            })
            .collect();
        ManyReport {
            targets,
            close_failures,
            peak_in_flight: in_flight.peak.load(Ordering::SeqCst),
            elapsed: start.elapsed(),
        }
    }
}

/// Closes a device within `bound` (the engine's `call_timeout`): a backend whose close
/// hangs must not hang the whole run.
async fn close(device: &dyn FenceDevice, bound: Duration) -> Option<CloseFailure> {
    let error = match tokio::time::timeout(bound, device.close()).await {
        Ok(Ok(())) => return None,
        Ok(Err(error)) => error,
        Err(_) => Error::unreachable(format!(
            "{} at {}: close did not finish within {}",
            device.backend(),
            device.address(),
            seconds_text(bound)
        )),
    };
    tracing::warn!(address = %device.address(), "closing the device failed: {error}");
    Some(CloseFailure {
        address: device.address(),
        error,
    })
}

fn failed_report(request: &Request, error: Error) -> Report {
    Report {
        action: request.action,
        plugs: request.plugs.clone(),
        result: Err(error),
        reads: Vec::new(),
        commands: Vec::new(),
        attempts: 0,
        on_phase_error: None,
        started_at: SystemTime::now(),
        elapsed: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::device::Capabilities;
    use crate::error::{ErrorKind, Result};
    use crate::power::{Outcome, PowerState};

    /// A device with real state per plug, a call latency, in-flight counting and faults.
    #[derive(Debug)]
    struct Fake {
        name: String,
        latency: Duration,
        state: Mutex<HashMap<String, PowerState>>,
        /// Calls in flight on this device right now, and the peak.
        busy: AtomicUsize,
        peak: AtomicUsize,
        /// Shared across devices: calls in flight anywhere, and the peak.
        global: Arc<(AtomicUsize, AtomicUsize)>,
        unreachable: bool,
        panics: bool,
        close_hangs: bool,
        closes: AtomicUsize,
        calls_after_close: AtomicUsize,
    }

    impl Fake {
        fn new(name: &str, global: &Arc<(AtomicUsize, AtomicUsize)>) -> Fake {
            Fake {
                name: name.to_owned(),
                latency: Duration::from_millis(10),
                state: Mutex::new(HashMap::new()),
                busy: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                global: Arc::clone(global),
                unreachable: false,
                panics: false,
                close_hangs: false,
                closes: AtomicUsize::new(0),
                calls_after_close: AtomicUsize::new(0),
            }
        }

        async fn enter(&self) -> Result<()> {
            if self.closes.load(Ordering::SeqCst) > 0 {
                self.calls_after_close.fetch_add(1, Ordering::SeqCst);
            }
            let n = self.busy.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(n, Ordering::SeqCst);
            let g = self.global.0.fetch_add(1, Ordering::SeqCst) + 1;
            self.global.1.fetch_max(g, Ordering::SeqCst);
            tokio::time::sleep(self.latency).await;
            self.busy.fetch_sub(1, Ordering::SeqCst);
            self.global.0.fetch_sub(1, Ordering::SeqCst);
            if self.panics {
                panic!("backend bug in {}", self.name);
            }
            if self.unreachable {
                return Err(Error::unreachable(format!(
                    "{}: no answer within 1 s",
                    self.name
                )));
            }
            Ok(())
        }
    }

    #[async_trait]
    impl FenceDevice for Fake {
        fn backend(&self) -> &'static str {
            "fake"
        }
        fn address(&self) -> String {
            self.name.clone()
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::single().with_plugs()
        }
        async fn power_state(&self, plug: &str) -> Result<PowerState> {
            self.enter().await?;
            let state = self.state.lock().unwrap();
            Ok(*state.get(plug).unwrap_or(&PowerState::On))
        }
        async fn set_power(&self, plug: &str, target: PowerState) -> Result<()> {
            self.enter().await?;
            self.state.lock().unwrap().insert(plug.to_owned(), target);
            Ok(())
        }
        async fn close(&self) -> Result<()> {
            self.closes.fetch_add(1, Ordering::SeqCst);
            if self.close_hangs {
                std::future::pending::<()>().await;
            }
            Ok(())
        }
    }

    fn globals() -> Arc<(AtomicUsize, AtomicUsize)> {
        Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)))
    }

    fn fast_engine() -> Engine {
        Engine::new(crate::engine::Timing {
            first_poll: Duration::from_millis(5),
            status_sleep: Duration::from_millis(20),
            power_timeout: Some(Duration::from_secs(5)),
            call_timeout: Duration::from_secs(5),
            ..crate::engine::Timing::default()
        })
    }

    /// Regression: a device whose close never finished held `Many::run` forever.
    #[tokio::test(start_paused = true)]
    async fn a_close_that_hangs_is_bounded_by_the_call_timeout() {
        let g = globals();
        let mut stuck = Fake::new("stuck", &g);
        stuck.close_hangs = true;
        let stuck = Arc::new(stuck);
        let fine = Arc::new(Fake::new("fine", &g));
        let targets = vec![
            Target::new(stuck.clone() as Arc<dyn FenceDevice>, Action::Off, ["n"]),
            Target::new(fine.clone() as Arc<dyn FenceDevice>, Action::Off, ["n"]),
        ];
        let report = Many::new(fast_engine()).run(targets).await;
        assert_eq!(report.succeeded(), 2);
        assert_eq!(
            report.close_failures.len(),
            1,
            "{:?}",
            report.close_failures
        );
        let failure = &report.close_failures[0];
        assert_eq!(failure.address, "stuck");
        assert_eq!(failure.error.kind(), ErrorKind::Unreachable);
        assert!(
            failure.error.to_string().contains("within 5 s"),
            "{}",
            failure.error
        );
        assert_eq!(fine.closes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_overall_cap_bounds_targets_in_flight() {
        let g = globals();
        let devices: Vec<Arc<Fake>> = (0..20)
            .map(|i| Arc::new(Fake::new(&format!("bmc{i}"), &g)))
            .collect();
        let targets = devices
            .iter()
            .map(|d| Target::new(d.clone() as Arc<dyn FenceDevice>, Action::Off, ["n"]))
            .collect();
        let report = Many::new(fast_engine())
            .limits(Limits::default().overall(4))
            .run(targets)
            .await;
        assert_eq!(report.succeeded(), 20);
        assert_eq!(report.peak_in_flight, 4);
        assert!(g.1.load(Ordering::SeqCst) <= 4, "device calls in flight");
        assert_eq!(g.1.load(Ordering::SeqCst), 4, "the cap is also reached");
        for d in &devices {
            assert_eq!(d.state.lock().unwrap()["n"], PowerState::Off);
            assert_eq!(d.closes.load(Ordering::SeqCst), 1, "{} closed once", d.name);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_per_device_cap_serialises_plugs_of_one_device() {
        let g = globals();
        let host = Arc::new(Fake::new("hypervisor", &g));
        let other = Arc::new(Fake::new("other", &g));
        let mut targets = Vec::new();
        for i in 0..6 {
            targets.push(Target::new(
                host.clone() as Arc<dyn FenceDevice>,
                Action::Off,
                [format!("vm{i}")],
            ));
            targets.push(Target::new(
                other.clone() as Arc<dyn FenceDevice>,
                Action::Off,
                [format!("vm{i}")],
            ));
        }
        let report = Many::new(fast_engine())
            .limits(Limits::default().overall(100).per_device(2))
            .run(targets)
            .await;
        assert!(report.all_succeeded());
        assert_eq!(host.peak.load(Ordering::SeqCst), 2);
        assert_eq!(other.peak.load(Ordering::SeqCst), 2);
        assert_eq!(report.peak_in_flight, 4);
        assert_eq!(host.closes.load(Ordering::SeqCst), 1);
        assert_eq!(host.calls_after_close.load(Ordering::SeqCst), 0);
        let state = host.state.lock().unwrap();
        assert_eq!(state.len(), 6);
        assert!(state.values().all(|s| *s == PowerState::Off));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_stay_with_their_target_and_reports_keep_input_order() {
        let g = globals();
        let mut dead = Fake::new("dead", &g);
        dead.unreachable = true;
        let mut buggy = Fake::new("buggy", &g);
        buggy.panics = true;
        let slow = {
            let mut f = Fake::new("slow", &g);
            f.latency = Duration::from_millis(60);
            f
        };
        let devices: Vec<Arc<dyn FenceDevice>> = vec![
            Arc::new(slow),
            Arc::new(dead),
            Arc::new(Fake::new("ok1", &g)),
            Arc::new(buggy),
            Arc::new(Fake::new("ok2", &g)),
        ];
        let targets = devices
            .iter()
            .map(|d| Target::new(Arc::clone(d), Action::Off, ["n"]))
            .collect();
        let report = Many::new(fast_engine()).run(targets).await;
        let addresses: Vec<&str> = report.targets.iter().map(|t| t.address.as_str()).collect();
        assert_eq!(addresses, ["slow", "dead", "ok1", "buggy", "ok2"]);
        let kinds: Vec<Option<ErrorKind>> = report
            .targets
            .iter()
            .map(|t| t.report.result.as_ref().err().map(Error::kind))
            .collect();
        assert_eq!(
            kinds,
            [
                None,
                Some(ErrorKind::Unreachable),
                None,
                Some(ErrorKind::Misbehaved),
                None
            ]
        );
        for i in [0, 2, 4] {
            let r = &report.targets[i].report;
            assert!(matches!(r.result, Ok(Outcome::PoweredOff)));
            assert!(r.off_verified());
        }
        assert_eq!(report.succeeded(), 3);
        let failed: Vec<usize> = report.failed().map(|(i, _)| i).collect();
        assert_eq!(failed, [1, 3]);
        assert!(report.close_failures.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_device_is_closed_once_after_its_last_target() {
        let g = globals();
        let host = Arc::new(Fake::new("host", &g));
        let targets = (0..5)
            .map(|i| {
                Target::new(
                    host.clone() as Arc<dyn FenceDevice>,
                    Action::On,
                    [format!("vm{i}")],
                )
            })
            .collect();
        let report = Many::new(fast_engine()).run(targets).await;
        assert_eq!(report.succeeded(), 5);
        assert_eq!(report.peak_in_flight, 1, "per-device default is 1");
        assert_eq!(host.closes.load(Ordering::SeqCst), 1);
        assert_eq!(host.calls_after_close.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_empty_list_gives_an_empty_report() {
        let report = Many::default().run(Vec::new()).await;
        assert!(report.targets.is_empty());
        assert_eq!(report.peak_in_flight, 0);
        assert!(report.all_succeeded());
    }

    #[test]
    fn zero_limits_count_as_one() {
        let l = Limits::default().overall(0).per_device(0);
        assert_eq!((l.overall, l.per_device), (1, 1));
    }
}
