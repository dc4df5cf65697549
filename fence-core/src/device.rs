//! The device trait: the small interface every backend implements.
//!
//! A backend answers three questions (what is the power state, switch on, switch off) and
//! declares which optional parts it has through [`Capabilities`]. It never decides whether
//! fencing succeeded: the [`Engine`](crate::engine::Engine) does that, by reading the state
//! back. Backends keep one connection or session per device object and release it in
//! [`FenceDevice::close`].

use std::fmt;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::power::PowerState;

/// The optional parts of a device.
///
/// The engine consults these before calling an optional method, so a device is never
/// asked for something it lacks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    /// The device has several plugs (VMs, outlets) and a plug must be named.
    pub plugs: bool,
    /// [`FenceDevice::list`] is implemented.
    pub list: bool,
    /// [`FenceDevice::power_cycle`] is implemented.
    pub power_cycle: bool,
    /// [`FenceDevice::diag`] is implemented.
    pub diag: bool,
}

impl Capabilities {
    /// A device with one machine behind it and no optional parts.
    pub const fn single() -> Self {
        Capabilities {
            plugs: false,
            list: false,
            power_cycle: false,
            diag: false,
        }
    }

    /// The same capabilities, with plugs that must be named.
    pub const fn with_plugs(mut self) -> Self {
        self.plugs = true;
        self
    }

    /// The same capabilities, with outlet listing.
    pub const fn with_list(mut self) -> Self {
        self.list = true;
        self
    }

    /// The same capabilities, with a power-cycle command.
    pub const fn with_power_cycle(mut self) -> Self {
        self.power_cycle = true;
        self
    }

    /// The same capabilities, with a diagnostic interrupt.
    pub const fn with_diag(mut self) -> Self {
        self.diag = true;
        self
    }
}

/// One outlet (plug) of a device, as `list` reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Outlet {
    /// The identifier to pass as `plug` (a VM name, an outlet number).
    pub id: String,
    /// A second name (a VM's UUID), possibly empty.
    pub alias: String,
    /// The state, when the listing includes it.
    pub state: Option<PowerState>,
}

/// A fencing device: a BMC, a hypervisor host, a power switch.
///
/// Object-safe, `Send + Sync`, with `Send` futures: a `Box<dyn FenceDevice>` or
/// `Arc<dyn FenceDevice>` can cross threads and tasks.
///
/// `plug` is the target on the device (a VM name, an outlet); devices without plugs
/// (one machine per BMC) ignore it, and receive `""` from the engine.
#[async_trait]
pub trait FenceDevice: Send + Sync + fmt::Debug {
    /// A short name of the backend, for logs and events (`redfish`, `ipmi`, `vbox`).
    fn backend(&self) -> &'static str;

    /// Where the device is, for logs and events: an address, never credentials.
    fn address(&self) -> String;

    /// The optional parts this device has.
    fn capabilities(&self) -> Capabilities;

    /// Reads the power state of `plug`.
    async fn power_state(&self, plug: &str) -> Result<PowerState>;

    /// Asks the device to switch `plug` to `state`. Returning `Ok` means the device accepted
    /// the request, not that the state changed: the engine verifies that.
    async fn set_power(&self, plug: &str, state: PowerState) -> Result<()>;

    /// Lists the device's outlets. Only called when [`Capabilities::list`] is set.
    async fn list(&self) -> Result<Vec<Outlet>> {
        Err(Error::unsupported(format!("{}: list", self.backend())))
    }

    /// Power-cycles `plug` in one command. Only called when [`Capabilities::power_cycle`] is
    /// set.
    async fn power_cycle(&self, plug: &str) -> Result<()> {
        let _ = plug;
        Err(Error::unsupported(format!(
            "{}: power cycle",
            self.backend()
        )))
    }

    /// Sends a diagnostic interrupt (NMI) to `plug`. Only called when
    /// [`Capabilities::diag`] is set.
    async fn diag(&self, plug: &str) -> Result<()> {
        let _ = plug;
        Err(Error::unsupported(format!("{}: diag", self.backend())))
    }

    /// Checks that the device answers and accepts the credentials (the `monitor` action).
    ///
    /// The default lists the outlets of devices with plugs and a listing, and otherwise reads
    /// the power state, as fence-agents does. A backend overrides it when a health check
    /// must not depend on a plug: a Redfish service with several systems and no
    /// `systems_uri` is healthy, although no single system can be chosen for fencing.
    async fn monitor(&self) -> Result<()> {
        let caps = self.capabilities();
        if caps.plugs && caps.list {
            self.list().await.map(|_| ())
        } else {
            self.power_state("").await.map(|_| ())
        }
    }

    /// Releases what the device holds open (an IPMI session, a Redfish session, an SSH
    /// connection). Best effort; the CLI calls it once at the end of a run, also after
    /// failures.
    ///
    /// **The device stays usable.** `close` leaves no state behind that a later call
    /// trips over: the next call on the same device opens a new session or connection, as
    /// the first call did. A program that keeps a device for many runs (a daemon, a
    /// `fence_core::many` batch repeated) may close it after each run. What each built-in
    /// backend leaves: `fence-ipmi` sends Close Session and forgets the session;
    /// `fence-redfish` deletes its Redfish session (session authentication; with basic
    /// authentication there is none) and keeps its HTTPS connection pool, whose keep-alive
    /// connection is closed when the device is dropped; `fence-vbox` and `fence-virsh`
    /// disconnect their SSH session. An error from `close` says the release failed (the BMC
    /// refused Close Session, the service refused the DELETE); the device is usable after
    /// it all the same.
    ///
    /// The default does nothing (a device that holds nothing open).
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[derive(Debug)]
    struct Fixed;

    #[async_trait]
    impl FenceDevice for Fixed {
        fn backend(&self) -> &'static str {
            "fixed"
        }
        fn address(&self) -> String {
            "nowhere".into()
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::single()
        }
        async fn power_state(&self, _plug: &str) -> Result<PowerState> {
            Ok(PowerState::On)
        }
        async fn set_power(&self, _plug: &str, _state: PowerState) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn trait_futures_are_send_and_the_trait_is_object_safe() {
        let device: Box<dyn FenceDevice> = Box::new(Fixed);
        assert_send(&device.power_state(""));
        assert_send(&device.set_power("", PowerState::Off));
        assert_send(&device.list());
        assert_send(&device.power_cycle(""));
        assert_send(&device.diag(""));
        assert_send(&device.close());
        assert_send(&device.monitor());
        fn is_send_sync<T: Send + Sync + ?Sized>() {}
        is_send_sync::<dyn FenceDevice>();
    }

    #[tokio::test]
    async fn optional_parts_default_to_unsupported() {
        let device = Fixed;
        let err = device.list().await.unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::Unsupported);
        assert!(device.power_cycle("").await.is_err());
        assert!(device.diag("").await.is_err());
        assert!(device.close().await.is_ok());
    }
}
