//! The test kit (feature `testkit`): a mockall mock of [`FenceDevice`] for engine and
//! fault-path tests, and a conformance suite that every backend runs against a live device.
//!
//! The conformance checks are `pub async fn`s that panic with a clear message when the
//! device does not behave (like the assertions of a test). A third party's backend calls
//! them from its own tests:
//!
//! ```ignore
//! let device = MyDevice::connect(...).await?;
//! fence_core::testkit::conformance::run_all(&device, "vm1", fast_timing()).await;
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
