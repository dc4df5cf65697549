//! The test kit (feature `testkit`): a mockall mock of [`FenceDevice`] for engine and
//! fault-path tests, and a conformance suite that every backend runs against a live device.
//!
//! The conformance checks are `pub async fn`s that panic with a clear message when the
//! device does not behave (like the assertions of a test). A third party's backend calls
//! them from its own tests:
//!
//! ```no_run
//! use fence_core::FenceDevice;
//! use fence_core::testkit::conformance::{fast_timing, run_all};
//!
//! // In a test of a backend: `device` talks to a live (or simulated) device, plug "vm1".
//! async fn conformance(device: &dyn FenceDevice) {
//!     run_all(device, "vm1", fast_timing()).await;
//! }
//! ```
//!
//! This module is for tests; it is not a stable part of the public API.

use async_trait::async_trait;

use crate::device::{Capabilities, FenceDevice, Outlet};
use crate::error::Result;
use crate::power::PowerState;

mockall::mock! {
    /// A mock device: set expectations on each method with `expect_*`.
    pub Device {}

    impl std::fmt::Debug for Device {
        fn fmt<'a>(&self, f: &mut std::fmt::Formatter<'a>) -> std::fmt::Result;
    }

    #[async_trait]
    impl FenceDevice for Device {
        fn backend(&self) -> &'static str;
        fn address(&self) -> String;
        fn capabilities(&self) -> Capabilities;
        async fn power_state(&self, plug: &str) -> Result<PowerState>;
        async fn set_power(&self, plug: &str, state: PowerState) -> Result<()>;
        async fn list(&self) -> Result<Vec<Outlet>>;
        async fn power_cycle(&self, plug: &str) -> Result<()>;
        async fn diag(&self, plug: &str) -> Result<()>;
        async fn close(&self) -> Result<()>;
    }
}

impl MockDevice {
    /// A mock with the plain identity expectations set (`backend`, `address`,
    /// `capabilities`), for tests that only care about power calls.
    pub fn with_identity(caps: Capabilities) -> Self {
        let mut m = MockDevice::new();
        m.expect_backend().return_const("mock");
        m.expect_address().returning(|| "mock-device".to_owned());
        m.expect_capabilities().return_const(caps);
        m.expect_fmt().returning(|f| f.write_str("MockDevice"));
        m
    }
}

/// Property-test configuration shared by every property test of the workspace, so that CI
/// draws the same cases on every run and a fresh search is one command away.
///
/// - `FENCE_PROPTEST_SEED` unset: the fixed seed [`CI_SEED`] (what
///   `.ci/run` and a plain `cargo test` use); `random`: a fresh seed per run; a number:
///   that seed (to replay a run).
/// - `PROPTEST_CASES`: the number of cases per property (default: the test's own).
/// - Failures are written next to the test's source as `<file>.regressions`; commit them:
///   they are replayed first on every run, whatever the seed.
///
/// A fresh search with many cases:
///
/// ```text
/// FENCE_PROPTEST_SEED=random PROPTEST_CASES=2000 cargo test --workspace -- --test-threads 1 prop
/// ```
pub mod proptest_support {
    use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};

    /// The seed of every CI run.
    pub const CI_SEED: u64 = 0x0fe4_ce15;

    /// The seed to use, from `FENCE_PROPTEST_SEED` (see the module docs); `Err` names a
    /// value that is neither `random` nor a number.
    pub fn seed_from(value: Option<&str>) -> Result<RngSeed, String> {
        match value.map(str::trim) {
            None | Some("") => Ok(RngSeed::Fixed(CI_SEED)),
            Some(v) if v.eq_ignore_ascii_case("random") => Ok(RngSeed::Random),
            Some(v) => v
                .parse::<u64>()
                .map(RngSeed::Fixed)
                .map_err(|_| format!("FENCE_PROPTEST_SEED={v:?}: expected `random` or a number")),
        }
    }

    /// The configuration of a property test: `default_cases` cases unless `PROPTEST_CASES`
    /// says otherwise, the seed of [`seed_from`], regressions kept next to the source.
    ///
    /// # Panics
    ///
    /// When `FENCE_PROPTEST_SEED` or `PROPTEST_CASES` is set to something unusable (a test
    /// run must not silently fall back to other cases than the ones asked for).
    pub fn config(default_cases: u32) -> Config {
        let seed = std::env::var("FENCE_PROPTEST_SEED").ok();
        let rng_seed = match seed_from(seed.as_deref()) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let cases = match std::env::var("PROPTEST_CASES") {
            Ok(v) => match v.trim().parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => panic!("PROPTEST_CASES={v:?}: expected a positive number"),
            },
            Err(_) => default_cases,
        };
        Config {
            cases,
            rng_seed,
            failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
            ..Config::default()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_seed_is_fixed_unless_asked_otherwise() {
            assert_eq!(seed_from(None), Ok(RngSeed::Fixed(CI_SEED)));
            assert_eq!(seed_from(Some("")), Ok(RngSeed::Fixed(CI_SEED)));
            assert_eq!(seed_from(Some("random")), Ok(RngSeed::Random));
            assert_eq!(seed_from(Some("RANDOM")), Ok(RngSeed::Random));
            assert_eq!(seed_from(Some("42")), Ok(RngSeed::Fixed(42)));
            assert!(seed_from(Some("often")).is_err());
        }
    }
}

/// Conformance checks: each runs the engine against a live device and asserts on the result
/// and on a status read of its own.
pub mod conformance {
    use std::time::Duration;

    use crate::device::FenceDevice;
    use crate::engine::{Engine, Request, Timing};
    use crate::power::{Action, Outcome, PowerState};

    /// Timing for tests against simulators: quick polls, a bounded wait.
    pub fn fast_timing() -> Timing {
        Timing {
            power_timeout: Some(Duration::from_secs(10)),
            power_wait: Duration::ZERO,
            status_sleep: Duration::from_millis(200),
            first_poll: Duration::from_millis(20),
            call_timeout: Duration::from_secs(15),
            ..Timing::default()
        }
    }

    fn request(device: &dyn FenceDevice, action: Action, plug: &str) -> Request {
        if device.capabilities().plugs {
            Request::new(action, [plug])
        } else {
            Request::plugless(action)
        }
    }

    async fn run(device: &dyn FenceDevice, timing: &Timing, action: Action, plug: &str) -> Outcome {
        let report = Engine::new(timing.clone())
            .run(device, &request(device, action, plug))
            .await;
        match report.result {
            Ok(o) => o,
            Err(e) => panic!("{} {action} on {plug:?} failed: {e}", device.backend()),
        }
    }

    async fn state(device: &dyn FenceDevice, plug: &str) -> PowerState {
        match device.power_state(plug).await {
            Ok(s) => s,
            Err(e) => panic!("{} status of {plug:?} failed: {e}", device.backend()),
        }
    }

    /// `status` reports the state that a direct read gives.
    pub async fn status_matches_read(device: &dyn FenceDevice, plug: &str, timing: Timing) {
        let read = state(device, plug).await;
        let outcome = run(device, &timing, Action::Status, plug).await;
        assert_eq!(
            outcome,
            Outcome::Status { state: read },
            "status disagrees with a direct read"
        );
    }

    /// `off` of a running machine answers PoweredOff, and the machine reads Off afterwards;
    /// a second `off` answers AlreadyOff.
    pub async fn off_is_verified(device: &dyn FenceDevice, plug: &str, timing: Timing) {
        if state(device, plug).await == PowerState::Off {
            assert_eq!(
                run(device, &timing, Action::On, plug).await,
                Outcome::PoweredOn
            );
        }
        assert_eq!(
            run(device, &timing, Action::Off, plug).await,
            Outcome::PoweredOff
        );
        assert_eq!(
            state(device, plug).await,
            PowerState::Off,
            "device reads On after a verified off"
        );
        assert_eq!(
            run(device, &timing, Action::Off, plug).await,
            Outcome::AlreadyOff
        );
    }

    /// `on` of a stopped machine answers PoweredOn, and the machine reads On afterwards; a
    /// second `on` answers AlreadyOn.
    pub async fn on_is_verified(device: &dyn FenceDevice, plug: &str, timing: Timing) {
        if state(device, plug).await == PowerState::On {
            assert_eq!(
                run(device, &timing, Action::Off, plug).await,
                Outcome::PoweredOff
            );
        }
        assert_eq!(
            run(device, &timing, Action::On, plug).await,
            Outcome::PoweredOn
        );
        assert_eq!(
            state(device, plug).await,
            PowerState::On,
            "device reads Off after a verified on"
        );
        assert_eq!(
            run(device, &timing, Action::On, plug).await,
            Outcome::AlreadyOn
        );
    }

    /// `reboot` of a running machine goes through a verified off and ends On.
    pub async fn reboot_ends_on(device: &dyn FenceDevice, plug: &str, timing: Timing) {
        if state(device, plug).await == PowerState::Off {
            run(device, &timing, Action::On, plug).await;
        }
        let report = Engine::new(timing.clone())
            .run(device, &request(device, Action::Reboot, plug))
            .await;
        assert!(
            report.off_verified(),
            "reboot without an Off read: {:?}",
            report.reads
        );
        assert_eq!(
            report.result.as_ref().ok(),
            Some(&Outcome::Rebooted {
                off_verified: true,
                power_on_failed: false
            }),
            "{:?}",
            report.result
        );
        assert_eq!(
            state(device, plug).await,
            PowerState::On,
            "machine not on after reboot"
        );
    }

    /// `list` names the plug, with the state a direct read gives (where the device lists).
    pub async fn list_contains(device: &dyn FenceDevice, plug: &str) {
        if !device.capabilities().list {
            return;
        }
        let outlets = match device.list().await {
            Ok(o) => o,
            Err(e) => panic!("{} list failed: {e}", device.backend()),
        };
        let read = state(device, plug).await;
        let found = outlets
            .iter()
            .find(|o| o.id == plug || o.alias == plug)
            .unwrap_or_else(|| panic!("{plug:?} missing from list {outlets:?}"));
        if let Some(s) = found.state {
            assert_eq!(s, read, "list state disagrees with a direct read");
        }
    }

    /// Error path: a device configured with a wrong password fails `status` with a login
    /// refusal that is not retried (the engine tries once), within `bound`.
    pub async fn wrong_password_is_refused_once(
        device: &dyn FenceDevice,
        plug: &str,
        timing: Timing,
        bound: Duration,
    ) {
        let started = std::time::Instant::now();
        let report = Engine::new(timing)
            .run(device, &request(device, Action::Status, plug))
            .await;
        let took = started.elapsed();
        let err = match report.result {
            Ok(o) => panic!(
                "{}: status with a wrong password gave {o:?}",
                device.backend()
            ),
            Err(e) => e,
        };
        assert_eq!(err.kind(), crate::ErrorKind::LoginRefused, "{err}");
        assert!(
            !err.is_retryable(),
            "a login refusal must not be retried: {err}"
        );
        assert!(
            report.attempts <= 1,
            "retried {} times: {err}",
            report.attempts
        );
        assert!(took <= bound, "the refusal took {took:?} (bound {bound:?})");
    }

    /// Error path: a device whose address answers nothing fails `status` as unreachable
    /// within `bound` (every call bounded).
    pub async fn unreachable_is_bounded(device: &dyn FenceDevice, plug: &str, bound: Duration) {
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(bound * 2, device.power_state(plug)).await;
        let took = started.elapsed();
        match result {
            Ok(Err(e)) => assert_eq!(e.kind(), crate::ErrorKind::Unreachable, "{e}"),
            Ok(Ok(s)) => panic!("{}: a dead address read {s}", device.backend()),
            Err(_) => panic!(
                "{}: status still running after {:?}",
                device.backend(),
                bound * 2
            ),
        }
        assert!(
            took <= bound,
            "unreachable after {took:?} (bound {bound:?})"
        );
    }

    /// Error path: an unknown plug is `PlugNotFound`, never a state (devices with plugs).
    pub async fn unknown_plug_is_not_found(device: &dyn FenceDevice, unknown: &str) {
        if !device.capabilities().plugs {
            return;
        }
        match device.power_state(unknown).await {
            Err(e) => assert_eq!(e.kind(), crate::ErrorKind::PlugNotFound, "{e}"),
            Ok(s) => panic!("{}: unknown plug {unknown:?} read {s}", device.backend()),
        }
    }

    /// `close` twice is safe, and the device can still be used afterwards or fails cleanly.
    pub async fn close_twice_is_safe(device: &dyn FenceDevice) {
        if let Err(e) = device.close().await {
            panic!("{}: first close failed: {e}", device.backend());
        }
        if let Err(e) = device.close().await {
            panic!("{}: second close failed: {e}", device.backend());
        }
    }

    /// `close` leaves the device usable ([`FenceDevice::close`]): a status read after it
    /// succeeds and agrees with the one before, and a second close after that read is
    /// accepted too. Run it on its own (not part of [`run_all`], whose callers count the
    /// sessions of one run).
    pub async fn usable_after_close(device: &dyn FenceDevice, plug: &str) {
        let before = state(device, plug).await;
        if let Err(e) = device.close().await {
            panic!("{}: close failed: {e}", device.backend());
        }
        let after = match device.power_state(plug).await {
            Ok(s) => s,
            Err(e) => panic!(
                "{}: a status read after close failed (the device must stay usable): {e}",
                device.backend()
            ),
        };
        assert_eq!(
            before,
            after,
            "{}: the state read after close differs from the one before",
            device.backend()
        );
        if let Err(e) = device.close().await {
            panic!("{}: close after reuse failed: {e}", device.backend());
        }
    }

    /// Every check in turn; leaves the machine On.
    pub async fn run_all(device: &dyn FenceDevice, plug: &str, timing: Timing) {
        status_matches_read(device, plug, timing.clone()).await;
        off_is_verified(device, plug, timing.clone()).await;
        on_is_verified(device, plug, timing.clone()).await;
        reboot_ends_on(device, plug, timing.clone()).await;
        list_contains(device, plug).await;
        status_matches_read(device, plug, timing).await;
    }
}
