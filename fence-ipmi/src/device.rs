//! [`IpmiDevice`]: the [`FenceDevice`] of one BMC, over one session per run.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{Mutex, MutexGuard};

use fence_core::{Answer, Capabilities, Error, FenceDevice, PowerState, Result};

use crate::client::{Counters, Session, Stats, completion_error};
use crate::config::IpmiConfig;
use fence_ipmi_proto::commands::{cc, chassis_control, cmd, netfn};

/// A boxed, `Send` future that borrows the session: the operations of
/// [`IpmiDevice::with_session`].
type SessionOp<'s, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 's>>;

/// One BMC: reads the chassis power state and sends Chassis Control.
///
/// Creating it does no I/O. The first call opens the session, later calls reuse it, and
/// [`FenceDevice::close`] closes it; a device dropped with its session open sends Close
/// Session without waiting (best effort). A call that fails inside the session drops that
/// session (with the same best-effort close), and the next call opens a new one.
///
/// The session works at User privilege until the first Chassis Control, which raises it to
/// the configured `privlvl` first: a status-only run never sends Set Session Privilege
/// Level.
pub struct IpmiDevice {
    config: IpmiConfig,
    session: Mutex<Option<Session>>,
    counters: Arc<Counters>,
}

impl fmt::Debug for IpmiDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpmiDevice")
            .field("config", &self.config)
            .field("stats", &self.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl IpmiDevice {
    /// A device for this configuration; checks the BMC key's format, does no I/O.
    pub fn new(config: IpmiConfig) -> Result<IpmiDevice> {
        config.kg_bytes()?;
        Ok(IpmiDevice {
            config,
            session: Mutex::new(None),
            counters: Arc::new(Counters::default()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &IpmiConfig {
        &self.config
    }

    /// Counts of sessions, round trips and datagrams so far.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Runs `op` on the session, opening it first if needed. On failure the session is
    /// dropped (best-effort close), so that the next call starts a fresh one.
    async fn with_session<T>(
        &self,
        op: impl for<'s> FnOnce(&'s mut Session) -> SessionOp<'s, T>,
    ) -> Result<T> {
        let mut guard: MutexGuard<'_, Option<Session>> = self.session.lock().await;
        if guard.is_none() {
            *guard = Some(Session::open_counted(&self.config, self.counters.clone()).await?);
        }
        let Some(session) = guard.as_mut() else {
            return Err(Error::misbehaved("IPMI session vanished"));
        };
        let result = op(session).await;
        if let Err(e) = &result {
            // A command the BMC refused leaves the session usable; a lost exchange may not.
            if !session.is_usable() {
                tracing::debug!(error = %e, "dropping the IPMI session after a failure");
                guard.take();
            }
        }
        result
    }

    async fn control(&self, control: u8, what: &'static str) -> Result<()> {
        let wanted = self.config.privilege;
        self.with_session(move |s| {
            Box::pin(async move {
                // A user-level account cannot send Chassis Control; it is sent anyway and the
                // BMC says so (cc 0xD4), as with ipmitool.
                s.ensure_privilege(wanted).await?;
                let resp = s
                    .request(netfn::CHASSIS, cmd::CHASSIS_CONTROL, vec![control])
                    .await?;
                match resp.completion_code {
                    cc::OK => Ok(()),
                    code @ (cc::INVALID_DATA_FIELD
                    | cc::INVALID_COMMAND
                    | cc::NOT_SUPPORTED_IN_PRESENT_STATE) => Err(Error::unsupported(format!(
                        "{}: {what} refused by the BMC: {} (cc {code:#04x})",
                        s.address(),
                        cc::describe(code)
                    ))
                    .in_request(format!("Chassis Control ({what})"))
                    .answered(Answer::Ipmi { code })),
                    code => Err(completion_error(
                        s.address(),
                        &format!("Chassis Control ({what})"),
                        what,
                        code,
                    )),
                }
            })
        })
        .await
    }
}

#[async_trait]
impl FenceDevice for IpmiDevice {
    fn backend(&self) -> &'static str {
        "ipmi"
    }

    fn address(&self) -> String {
        self.config.address()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::single().with_power_cycle().with_diag()
    }

    async fn power_state(&self, _plug: &str) -> Result<PowerState> {
        let on = self
            .with_session(|s| Box::pin(async move { s.chassis_power_is_on().await }))
            .await?;
        Ok(if on { PowerState::On } else { PowerState::Off })
    }

    async fn set_power(&self, _plug: &str, state: PowerState) -> Result<()> {
        match state {
            PowerState::On => self.control(chassis_control::POWER_UP, "power on").await,
            PowerState::Off => self.control(chassis_control::POWER_DOWN, "power off").await,
        }
    }

    async fn power_cycle(&self, _plug: &str) -> Result<()> {
        self.control(chassis_control::POWER_CYCLE, "power cycle")
            .await
    }

    async fn diag(&self, _plug: &str) -> Result<()> {
        self.control(
            chassis_control::DIAGNOSTIC_INTERRUPT,
            "diagnostic interrupt",
        )
        .await
    }

    /// Sends Close Session for the open session, if any, and forgets it (also when the
    /// BMC does not answer). The device stays usable: the next call opens a new session.
    async fn close(&self) -> Result<()> {
        let mut guard = self.session.lock().await;
        match guard.take() {
            Some(mut s) => s.close().await,
            None => Ok(()),
        }
    }
}
