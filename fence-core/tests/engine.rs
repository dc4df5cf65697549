//! Engine tests against the mock device: verification, retries, delay, cycle.
#![allow(clippy::unwrap_used)]
//!
//! Time is paused (tokio's test clock), so timeouts of 20 s take no real time and the
//! assertions on elapsed time are exact.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fence_core::testkit::MockDevice;
use fence_core::{
    Action, Capabilities, Engine, Error, ErrorKind, Outcome, PowerState, RebootMethod, Request,
    Timing,
};

fn timing() -> Timing {
    Timing {
        power_timeout: Some(Duration::from_secs(20)),
        ..Timing::default()
    }
}

/// A mock whose state is shared: reads return it, sets change it when `obey` says so.
struct Machine {
    state: Arc<Mutex<PowerState>>,
    sets_on: Arc<AtomicU32>,
    sets_off: Arc<AtomicU32>,
}

fn machine(initial: PowerState, obey_off: bool, obey_on: bool) -> (MockDevice, Machine) {
    let state = Arc::new(Mutex::new(initial));
    let sets_on = Arc::new(AtomicU32::new(0));
    let sets_off = Arc::new(AtomicU32::new(0));
    let mut m = MockDevice::with_identity(Capabilities::single().with_power_cycle().with_diag());
    let s = state.clone();
    m.expect_power_state()
        .returning(move |_| Ok(*s.lock().unwrap()));
    let (s, on, off) = (state.clone(), sets_on.clone(), sets_off.clone());
    m.expect_set_power().returning(move |_, target| {
        match target {
            PowerState::On => {
                on.fetch_add(1, Ordering::SeqCst);
                if obey_on {
                    *s.lock().unwrap() = PowerState::On;
                }
            }
            PowerState::Off => {
                off.fetch_add(1, Ordering::SeqCst);
                if obey_off {
                    *s.lock().unwrap() = PowerState::Off;
                }
            }
        }
        Ok(())
    });
    (
        m,
        Machine {
            state,
            sets_on,
            sets_off,
        },
    )
}

async fn run(device: &MockDevice, timing: Timing, action: Action) -> fence_core::Report {
    Engine::new(timing)
        .run(device, &Request::plugless(action))
        .await
}

#[tokio::test(start_paused = true)]
async fn off_that_is_never_confirmed_times_out_and_never_succeeds() {
    // The device accepts the off command but keeps reading On (a lying BMC).
    let (device, m) = machine(PowerState::On, false, true);
    let start = tokio::time::Instant::now();
    let report = run(&device, timing(), Action::Off).await;
    let err = report.result.as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PowerTimeout);
    assert_eq!(err.to_string(), "Timed out waiting to power OFF");
    assert!(!report.off_verified());
    assert_eq!(m.sets_off.load(Ordering::SeqCst), 1, "off gets one attempt");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(20) && waited < Duration::from_secs(22),
        "bounded by power_timeout: {waited:?}"
    );
    assert!(
        report.reads.len() > 3,
        "polled repeatedly: {:?}",
        report.reads
    );
}

#[tokio::test(start_paused = true)]
async fn off_succeeds_only_after_a_status_read_says_off() {
    let (device, m) = machine(PowerState::On, true, true);
    let report = run(&device, timing(), Action::Off).await;
    assert_eq!(report.result.as_ref().unwrap(), &Outcome::PoweredOff);
    assert!(report.off_verified());
    let off_cmd = report
        .commands
        .iter()
        .find(|c| c.command == fence_core::engine::Command::Off)
        .unwrap();
    let last = report.reads.last().unwrap();
    assert_eq!(last.state, PowerState::Off);
    assert!(
        last.at >= off_cmd.at,
        "the deciding read comes after the command"
    );
    assert_eq!(
        report.reads.first().unwrap().state,
        PowerState::On,
        "status is read first"
    );
    assert_eq!(*m.state.lock().unwrap(), PowerState::Off);
}

#[tokio::test(start_paused = true)]
async fn device_that_goes_off_late_is_polled_until_it_does() {
    // Off takes effect 3 s after the command: the engine must keep reading, not give up.
    let state = Arc::new(Mutex::new(PowerState::On));
    let off_at = Arc::new(Mutex::new(None::<tokio::time::Instant>));
    let mut device = MockDevice::with_identity(Capabilities::single());
    let (s, t) = (state.clone(), off_at.clone());
    device.expect_power_state().returning(move |_| {
        if let Some(at) = *t.lock().unwrap() {
            if tokio::time::Instant::now() >= at {
                *s.lock().unwrap() = PowerState::Off;
            }
        }
        Ok(*s.lock().unwrap())
    });
    let t = off_at.clone();
    device.expect_set_power().returning(move |_, _| {
        *t.lock().unwrap() = Some(tokio::time::Instant::now() + Duration::from_secs(3));
        Ok(())
    });
    let report = run(&device, timing(), Action::Off).await;
    assert_eq!(report.result.unwrap(), Outcome::PoweredOff);
    assert!(report.elapsed >= Duration::from_secs(3));
    assert!(
        report.elapsed < Duration::from_secs(5),
        "adaptive polling notices within ~1 s: {:?}",
        report.elapsed
    );
}

#[tokio::test(start_paused = true)]
async fn already_off_sends_nothing() {
    let (device, m) = machine(PowerState::Off, true, true);
    let report = run(&device, timing(), Action::Off).await;
    assert_eq!(report.result.unwrap(), Outcome::AlreadyOff);
    assert_eq!(m.sets_off.load(Ordering::SeqCst), 0);
    assert_eq!(report.reads.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn already_on_sends_nothing() {
    let (device, m) = machine(PowerState::On, true, true);
    let report = run(&device, timing(), Action::On).await;
    assert_eq!(report.result.unwrap(), Outcome::AlreadyOn);
    assert_eq!(m.sets_on.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn on_gets_one_plus_retry_on_attempts() {
    for retry_on in [0u32, 1, 3] {
        let (device, m) = machine(PowerState::Off, true, false);
        let t = Timing {
            retry_on,
            power_timeout: Some(Duration::from_secs(2)),
            ..timing()
        };
        let report = run(&device, t, Action::On).await;
        assert_eq!(
            report.result.unwrap_err().to_string(),
            "Timed out waiting to power ON"
        );
        assert_eq!(m.sets_on.load(Ordering::SeqCst), 1 + retry_on);
        assert_eq!(report.attempts, 1 + retry_on);
    }
}

#[tokio::test(start_paused = true)]
async fn reboot_with_failed_on_after_verified_off_still_counts_as_rebooted() {
    let (device, m) = machine(PowerState::On, true, false);
    let t = Timing {
        retry_on: 2,
        ..timing()
    };
    let report = run(&device, t, Action::Reboot).await;
    assert_eq!(
        report.result.as_ref().unwrap(),
        &Outcome::Rebooted {
            off_verified: true,
            power_on_failed: true
        }
    );
    assert!(report.off_verified());
    assert_eq!(
        report.on_phase_error.as_deref(),
        Some("Timed out waiting to power ON")
    );
    assert_eq!(
        m.sets_on.load(Ordering::SeqCst),
        2,
        "reboot's on phase gets retry_on attempts"
    );
}

#[tokio::test(start_paused = true)]
async fn reboot_whose_off_is_never_confirmed_fails_and_never_powers_on() {
    let (device, m) = machine(PowerState::On, false, true);
    let report = run(&device, timing(), Action::Reboot).await;
    assert_eq!(
        report.result.unwrap_err().to_string(),
        "Timed out waiting to power OFF"
    );
    assert_eq!(m.sets_on.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn reboot_of_a_running_machine_goes_off_then_on() {
    let (device, m) = machine(PowerState::On, true, true);
    let report = run(&device, timing(), Action::Reboot).await;
    assert_eq!(
        report.result.as_ref().unwrap(),
        &Outcome::Rebooted {
            off_verified: true,
            power_on_failed: false
        }
    );
    assert!(report.off_verified());
    assert_eq!(m.sets_off.load(Ordering::SeqCst), 1);
    assert_eq!(m.sets_on.load(Ordering::SeqCst), 1);
    assert_eq!(*m.state.lock().unwrap(), PowerState::On);
}

#[tokio::test(start_paused = true)]
async fn reboot_of_a_stopped_machine_skips_the_off() {
    let (device, m) = machine(PowerState::Off, true, true);
    let report = run(&device, timing(), Action::Reboot).await;
    assert!(report.result.is_ok());
    assert_eq!(m.sets_off.load(Ordering::SeqCst), 0);
    assert_eq!(m.sets_on.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn delay_applies_to_off_and_reboot_only() {
    let delay = Duration::from_secs(5);
    for (action, delayed) in [
        (Action::Off, true),
        (Action::Reboot, true),
        (Action::Status, false),
        (Action::On, false),
        (Action::Monitor, false),
    ] {
        let (device, _m) = machine(PowerState::On, true, true);
        let t = Timing { delay, ..timing() };
        let report = run(&device, t, action).await;
        assert!(report.result.is_ok(), "{action}: {:?}", report.result);
        let first_contact = report.reads.first().map_or(report.elapsed, |r| r.at);
        if delayed {
            assert!(
                first_contact >= delay,
                "{action}: first contact at {first_contact:?}"
            );
        } else {
            assert!(
                first_contact < Duration::from_millis(10),
                "{action} was delayed"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn cycle_sends_one_cycle_and_reports_the_off_unverified() {
    let (mut device, m) = machine(PowerState::On, true, true);
    let cycles = Arc::new(AtomicU32::new(0));
    let c = cycles.clone();
    device.expect_power_cycle().returning(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let t = Timing {
        method: RebootMethod::Cycle,
        ..timing()
    };
    let report = run(&device, t, Action::Reboot).await;
    assert_eq!(
        report.result.unwrap(),
        Outcome::Rebooted {
            off_verified: false,
            power_on_failed: false
        }
    );
    assert_eq!(cycles.load(Ordering::SeqCst), 1);
    assert_eq!(
        m.sets_off.load(Ordering::SeqCst) + m.sets_on.load(Ordering::SeqCst),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_cycle_is_not_sent_again_but_one_that_may_pass_is() {
    for (error, sent) in [
        (Error::rejected("HTTP 400 Bad Request"), 1),
        (Error::login_refused("HTTP 401"), 1),
        (Error::misbehaved("HTTP 503 Service Unavailable"), 3),
    ] {
        let (mut device, _m) = machine(PowerState::On, true, true);
        let cycles = Arc::new(AtomicU32::new(0));
        let c = cycles.clone();
        let shown = error.to_string();
        let answer = Mutex::new(Some(error));
        device.expect_power_cycle().returning(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            let again = answer.lock().unwrap().take();
            Err(again.unwrap_or_else(|| Error::misbehaved("HTTP 503 Service Unavailable")))
        });
        let t = Timing {
            method: RebootMethod::Cycle,
            retry_on: 2,
            ..timing()
        };
        let report = run(&device, t, Action::Reboot).await;
        assert!(report.result.is_err(), "{shown}");
        assert_eq!(cycles.load(Ordering::SeqCst), sent, "{shown}");
    }
}

#[tokio::test(start_paused = true)]
async fn cycle_of_a_machine_already_off_powers_it_on_instead() {
    // Many BMCs refuse a cycle when the host is off (fence-agents#596); the off state was
    // just read, so the node is fenced and only needs to come back.
    let (mut device, m) = machine(PowerState::Off, true, true);
    device.expect_power_cycle().never();
    let t = Timing {
        method: RebootMethod::Cycle,
        ..timing()
    };
    let report = run(&device, t, Action::Reboot).await;
    assert_eq!(
        report.result.unwrap(),
        Outcome::Rebooted {
            off_verified: true,
            power_on_failed: false
        }
    );
    assert_eq!(m.sets_on.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refused_off_fails_at_once_unless_a_read_shows_it_off() {
    // Refused, machine still on: fail at once with the device's message.
    let mut device = MockDevice::with_identity(Capabilities::single());
    device
        .expect_power_state()
        .returning(|_| Ok(PowerState::On));
    device
        .expect_set_power()
        .times(1)
        .returning(|_, _| Err(Error::misbehaved("HTTP 500: Internal error")));
    let report = run(&device, timing(), Action::Off).await;
    let err = report.result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Device misbehaved: HTTP 500: Internal error"
    );
    assert!(
        report.elapsed < Duration::from_secs(1),
        "no wait for power_timeout"
    );

    // Refused because it already is off (iLO's 400): the read settles it.
    let reads = Arc::new(AtomicU32::new(0));
    let r = reads.clone();
    let mut device = MockDevice::with_identity(Capabilities::single());
    device.expect_power_state().returning(move |_| {
        // On at the first read, Off afterwards (someone else switched it off meanwhile).
        Ok(if r.fetch_add(1, Ordering::SeqCst) == 0 {
            PowerState::On
        } else {
            PowerState::Off
        })
    });
    device
        .expect_set_power()
        .returning(|_, _| Err(Error::misbehaved("HTTP 400: already powered off")));
    let report = run(&device, timing(), Action::Off).await;
    assert_eq!(report.result.unwrap(), Outcome::PoweredOff);
}

#[tokio::test(start_paused = true)]
async fn a_busy_refusal_is_sent_again_until_the_device_takes_it() {
    // A VM that is still starting refuses poweroff twice ("Invalid machine state:
    // Starting"), then takes it: the engine keeps sending within power_timeout.
    let state = Arc::new(Mutex::new(PowerState::On));
    let sets = Arc::new(AtomicU32::new(0));
    let mut device = MockDevice::with_identity(Capabilities::single());
    let s = state.clone();
    device
        .expect_power_state()
        .returning(move |_| Ok(*s.lock().unwrap()));
    let (s, n) = (state.clone(), sets.clone());
    device.expect_set_power().returning(move |_, target| {
        if n.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err(Error::busy("Invalid machine state: Starting"));
        }
        *s.lock().unwrap() = target;
        Ok(())
    });
    let report = run(&device, timing(), Action::Off).await;
    assert_eq!(report.result.unwrap(), Outcome::PoweredOff);
    assert_eq!(sets.load(Ordering::SeqCst), 3);
    assert_eq!(report.commands.iter().filter(|c| !c.accepted).count(), 2);
    assert!(
        report.elapsed < Duration::from_secs(1),
        "{:?}",
        report.elapsed
    );
}

#[tokio::test(start_paused = true)]
async fn a_device_that_stays_busy_times_out_and_is_never_off() {
    let mut device = MockDevice::with_identity(Capabilities::single());
    device
        .expect_power_state()
        .returning(|_| Ok(PowerState::On));
    device
        .expect_set_power()
        .returning(|_, _| Err(Error::busy("The virtual machine is being powered down")));
    let report = run(&device, timing(), Action::Off).await;
    let err = report.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PowerTimeout, "{err}");
    assert_eq!(err.to_string(), "Timed out waiting to power OFF");
    assert!(
        report.elapsed >= Duration::from_secs(20) && report.elapsed < Duration::from_secs(22),
        "bounded by power_timeout: {:?}",
        report.elapsed
    );
    assert!(report.reads.iter().all(|r| r.state == PowerState::On));
    // Not busy: one refusal, no second try.
    let mut device = MockDevice::with_identity(Capabilities::single());
    device
        .expect_power_state()
        .returning(|_| Ok(PowerState::On));
    device
        .expect_set_power()
        .times(1)
        .returning(|_, _| Err(Error::misbehaved("E_ACCESSDENIED")));
    let report = run(&device, timing(), Action::Off).await;
    assert_eq!(report.result.unwrap_err().kind(), ErrorKind::Misbehaved);
}

#[tokio::test(start_paused = true)]
async fn status_of_several_plugs_is_on_if_any_is_on() {
    let mut device = MockDevice::with_identity(Capabilities::single().with_plugs());
    device.expect_power_state().returning(|plug| {
        Ok(if plug == "b" {
            PowerState::On
        } else {
            PowerState::Off
        })
    });
    let report = Engine::new(timing())
        .run(&device, &Request::split_plugs(Action::Status, "a,b,c", ","))
        .await;
    assert_eq!(
        report.result.unwrap(),
        Outcome::Status {
            state: PowerState::On
        }
    );
    assert_eq!(report.reads.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn plug_devices_need_a_plug_and_unsupported_parts_are_never_called() {
    let mut device = MockDevice::with_identity(Capabilities::single().with_plugs());
    device.expect_power_state().never();
    device.expect_list().never();
    device.expect_diag().never();
    let report = Engine::new(timing())
        .run(&device, &Request::plugless(Action::Off))
        .await;
    assert_eq!(report.result.unwrap_err().kind(), ErrorKind::InvalidInput);
    let report = Engine::new(timing())
        .run(&device, &Request::plugless(Action::List))
        .await;
    assert_eq!(report.result.unwrap_err().kind(), ErrorKind::Unsupported);
    let report = Engine::new(timing())
        .run(&device, &Request::new(Action::Diag, ["vm"]))
        .await;
    assert_eq!(report.result.unwrap_err().kind(), ErrorKind::Unsupported);
}

/// A device whose status read never answers.
#[derive(Debug)]
struct Hanging;

#[async_trait::async_trait]
impl fence_core::FenceDevice for Hanging {
    fn backend(&self) -> &'static str {
        "hanging"
    }
    fn address(&self) -> String {
        "10.0.0.1".into()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::single()
    }
    async fn power_state(&self, _plug: &str) -> fence_core::Result<PowerState> {
        std::future::pending().await
    }
    async fn set_power(&self, _plug: &str, _state: PowerState) -> fence_core::Result<()> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_hanging_device_call_is_bounded_by_call_timeout() {
    let t = Timing {
        call_timeout: Duration::from_secs(7),
        ..timing()
    };
    let report = Engine::new(t)
        .run(&Hanging, &Request::plugless(Action::Off))
        .await;
    let err = report.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(err.to_string().contains("10.0.0.1"), "{err}");
    assert_eq!(report.elapsed, Duration::from_secs(7));
}

#[test]
fn timing_from_options_follows_fence_agents() {
    use fence_core::params::{ParamTable, common};
    let table = ParamTable::new()
        .with(&common::every_agent())
        .with(&[common::METHOD]);
    let o = table
        .parse([
            ("power_timeout", "0"),
            ("retry_on", "3"),
            ("delay", "2"),
            ("method", "cycle"),
            ("stonith_status_sleep", "0.5"),
        ])
        .unwrap();
    let t = Timing::from_options(&o).unwrap();
    assert_eq!(t.power_timeout, None, "0 means no timeout");
    assert_eq!(t.retry_on, 3);
    assert_eq!(t.delay, Duration::from_secs(2));
    assert_eq!(t.method, RebootMethod::Cycle);
    assert!(t.first_poll <= t.status_sleep);
    let d = Timing::from_options(&table.parse([]).unwrap()).unwrap();
    assert_eq!(d.power_timeout, Some(Duration::from_secs(20)));
    assert_eq!(d.status_sleep, Duration::from_secs(1));
    assert_eq!(d.retry_on, 1);
}

#[tokio::test(start_paused = true)]
async fn every_run_emits_one_event_with_its_evidence() {
    let (device, _m) = machine(PowerState::On, true, true);
    let (observer, mut rx) = fence_core::events::channel();
    let engine = Engine::new(timing())
        .with_agent_name("fence_test")
        .with_observer(observer);
    let report = engine
        .run(&device, &Request::plugless(Action::Off).with_node("virt-a"))
        .await;
    assert!(report.result.is_ok());
    let event = rx.try_recv().expect("one event");
    assert!(rx.try_recv().is_err(), "exactly one event");
    assert_eq!(event.agent.as_deref(), Some("fence_test"));
    assert_eq!(event.node.as_deref(), Some("virt-a"));
    assert_eq!(event.backend, "mock");
    assert_eq!(event.device, "mock-device");
    assert_eq!(event.action, Action::Off);
    assert!(event.success && event.off_verified);
    assert_eq!(event.outcome, Some(Outcome::PoweredOff));
    assert_eq!(event.reads.len(), report.reads.len());
    let json: serde_json::Value = serde_json::from_str(&event.to_json_line()).unwrap();
    assert_eq!(json["action"], "off");
    assert_eq!(json["outcome"]["outcome"], "powered_off");
    assert_eq!(json["reads"][0]["state"], "on");

    // A failure is an event too, with its kind.
    let (device, _m) = machine(PowerState::On, false, true);
    engine.run(&device, &Request::plugless(Action::Off)).await;
    let event = rx.try_recv().expect("failure event");
    assert!(!event.success);
    assert_eq!(event.result_word(), "power_timeout");
    assert_eq!(
        event.error.as_deref(),
        Some("Timed out waiting to power OFF")
    );
}

/// Regression: `power_timeout=10000000000000000000` (a valid number of seconds) panicked
/// with "overflow when adding duration to instant" when the engine set its deadline.
#[tokio::test(start_paused = true)]
async fn a_timeout_beyond_the_clock_range_is_no_panic() {
    let huge = Duration::from_secs(10_000_000_000_000_000_000);
    let (device, m) = machine(PowerState::On, true, true);
    let t = Timing {
        power_timeout: Some(huge),
        status_sleep: huge,
        ..timing()
    };
    let report = run(&device, t, Action::Off).await;
    assert_eq!(report.result.unwrap(), Outcome::PoweredOff);
    assert_eq!(*m.state.lock().unwrap(), PowerState::Off);
    assert_eq!(m.sets_off.load(Ordering::SeqCst), 1);
}
