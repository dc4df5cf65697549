//! The VirtualBox host as a [`FenceDevice`].

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use fence_core::secret::scrub_outside;
use fence_core::{Capabilities, Error, FenceDevice, Outlet, PowerState, Result};

use crate::config::VboxConfig;
use crate::ssh::{Output, SshSession};
use crate::vboxmanage::{self, VBoxManage, Vm};

/// A VirtualBox host reached over SSH.
///
/// [`VboxDevice::new`] does no I/O; the first call logs in, and the session is kept for
/// every later call until [`FenceDevice::close`] (a session that failed is dropped, and the
/// next call logs in again). Calls on one device are serialised; every SSH operation runs
/// on tokio's blocking thread pool.
pub struct VboxDevice {
    config: Arc<VboxConfig>,
    inner: Arc<Mutex<Inner>>,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    logins: AtomicU64,
    commands: AtomicU64,
}

/// What the blocking worker owns.
struct Inner {
    vbox: VBoxManage,
    session: Option<SshSession>,
    /// Plug -> UUID of the VM it matched, for every plug seen registered in this run.
    seen: HashMap<String, String>,
}

impl fmt::Debug for VboxDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VboxDevice")
            .field("config", &self.config)
            .field("logins", &self.logins())
            .field("remote_commands", &self.remote_commands())
            .finish()
    }
}

impl VboxDevice {
    /// A device for this host. Fails only on arguments that cannot be quoted for the host
    /// (a NUL in `vboxmanage_path`, an empty path). No I/O.
    pub fn new(config: VboxConfig) -> Result<VboxDevice> {
        let vbox = VBoxManage::new(&config)?;
        Ok(VboxDevice {
            config: Arc::new(config),
            inner: Arc::new(Mutex::new(Inner {
                vbox,
                session: None,
                seen: HashMap::new(),
            })),
            counters: Arc::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &VboxConfig {
        &self.config
    }

    /// How many SSH logins this device has made (1 in a run without failures).
    pub fn logins(&self) -> u64 {
        self.counters.logins.load(Ordering::Relaxed)
    }

    /// How many remote commands (SSH channels) this device has run.
    pub fn remote_commands(&self) -> u64 {
        self.counters.commands.load(Ordering::Relaxed)
    }

    /// Runs `f` with the worker state on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let config = Arc::clone(&self.config);
        let inner = Arc::clone(&self.inner);
        let counters = Arc::clone(&self.counters);
        tokio::task::spawn_blocking(move || {
            let mut guard = inner.lock().unwrap_or_else(PoisonError::into_inner);
            let mut worker = Worker {
                config: &config,
                inner: &mut guard,
                counters: &counters,
            };
            f(&mut worker)
        })
        .await
        .map_err(|e| Error::interrupted(format!("SSH worker: {e}")))?
    }
}

struct Worker<'a> {
    config: &'a VboxConfig,
    inner: &'a mut Inner,
    counters: &'a Counters,
}

impl Worker<'_> {
    /// Runs one remote command on the session (logging in first if needed).
    fn run(&mut self, command: &str) -> Result<Output> {
        if self.inner.session.is_none() {
            let session = SshSession::connect(self.config)?;
            self.counters.logins.fetch_add(1, Ordering::Relaxed);
            self.inner.session = Some(session);
        }
        let Some(session) = self.inner.session.as_ref() else {
            return Err(Error::misbehaved("SSH session vanished"));
        };
        let started = Instant::now();
        self.counters.commands.fetch_add(1, Ordering::Relaxed);
        match session.exec(command) {
            Ok(mut out) => {
                // The remote output is text from outside: scrubbed of the password (should
                // a wrapper echo it) before it reaches a log line or an error message.
                if let Some(pw) = &self.config.password {
                    out.stdout = scrub_outside(&out.stdout, [pw.expose()]);
                    out.stderr = scrub_outside(&out.stderr, [pw.expose()]);
                }
                tracing::debug!(
                    %command, status = out.status, elapsed = ?started.elapsed(),
                    stderr = %out.stderr.trim_end(), "remote command"
                );
                Ok(out)
            }
            Err(e) => {
                tracing::debug!(%command, error = %e, "remote command failed; dropping the session");
                self.inner.session = None;
                Err(e)
            }
        }
    }

    /// Runs a `list` command and parses it; a failed run is an error.
    fn list(&mut self, command: &str) -> Result<Vec<Vm>> {
        let out = self.run(command)?;
        if out.status != 0 {
            return Err(Error::misbehaved(format!(
                "{}: `{command}` failed (exit {}): {}",
                self.config.address(),
                out.status,
                vboxmanage::error_message(&out.stderr)
            )));
        }
        Ok(vboxmanage::parse_list(&out.stdout))
    }

    fn list_running(&mut self) -> Result<Vec<Vm>> {
        let cmd = self.inner.vbox.list_running();
        self.list(&cmd)
    }

    fn list_vms(&mut self) -> Result<Vec<Vm>> {
        let cmd = self.inner.vbox.list_vms();
        let vms = self.list(&cmd)?;
        Ok(vms)
    }

    fn not_found(plug: &str) -> Error {
        Error::plug_not_found(
            plug,
            "You have to enter existing name/UUID of virtual machine!",
        )
    }

    /// `list runningvms`; `list vms` only when the plug is not running and was not seen
    /// registered earlier in this run.
    fn power_state(&mut self, plug: &str) -> Result<PowerState> {
        let running = self.list_running()?;
        if let Some(vm) = vboxmanage::find(&running, plug) {
            self.inner.seen.insert(plug.to_owned(), vm.uuid.clone());
            return Ok(PowerState::On);
        }
        if let Some(uuid) = self.inner.seen.get(plug) {
            // Known to exist: not among the running VMs means not running.
            let on = running
                .iter()
                .any(|vm| vboxmanage::same_uuid(&vm.uuid, uuid));
            return Ok(if on { PowerState::On } else { PowerState::Off });
        }
        let all = self.list_vms()?;
        if let Some(vm) = vboxmanage::find(&all, plug) {
            self.inner.seen.insert(plug.to_owned(), vm.uuid.clone());
            return Ok(PowerState::Off);
        }
        if self.config.missing_as_off {
            tracing::debug!(%plug, "no such VM; missing_as_off says Off");
            return Ok(PowerState::Off);
        }
        Err(Self::not_found(plug))
    }

    /// The UUID of the VM the plug names (from this run's reads, else `list vms`).
    fn resolve(&mut self, plug: &str) -> Result<String> {
        if let Some(uuid) = self.inner.seen.get(plug) {
            return Ok(uuid.clone());
        }
        let all = self.list_vms()?;
        match vboxmanage::find(&all, plug) {
            Some(vm) => {
                let uuid = vm.uuid.clone();
                self.inner.seen.insert(plug.to_owned(), uuid.clone());
                Ok(uuid)
            }
            None => Err(Self::not_found(plug)),
        }
    }

    fn set_power(&mut self, plug: &str, state: PowerState) -> Result<()> {
        let uuid = self.resolve(plug)?;
        let command = match state {
            PowerState::On => self.inner.vbox.startvm(&uuid)?,
            PowerState::Off => self.inner.vbox.poweroff(&uuid)?,
        };
        let out = self.run(&command)?;
        if out.status == 0 {
            return Ok(());
        }
        if vboxmanage::is_not_found(&out.stderr) {
            self.inner.seen.remove(plug);
            return Err(Error::plug_not_found(
                plug,
                vboxmanage::error_message(&out.stderr),
            ));
        }
        Err(Error::misbehaved(format!(
            "{}: `{command}` failed (exit {}): {}",
            self.config.address(),
            out.status,
            vboxmanage::error_message(&out.stderr)
        )))
    }

    /// `list vms` then `list runningvms`, as fence_vbox lists.
    fn outlets(&mut self) -> Result<Vec<Outlet>> {
        let all = self.list_vms()?;
        let running = self.list_running()?;
        let outlets = all
            .iter()
            .map(|vm| {
                let on = running
                    .iter()
                    .any(|r| vboxmanage::same_uuid(&r.uuid, &vm.uuid));
                Outlet {
                    id: vm.name.clone(),
                    alias: vm.uuid.clone(),
                    state: Some(if on { PowerState::On } else { PowerState::Off }),
                }
            })
            .collect();
        for vm in all {
            self.inner.seen.insert(vm.name, vm.uuid);
        }
        Ok(outlets)
    }
}

#[async_trait]
impl FenceDevice for VboxDevice {
    fn backend(&self) -> &'static str {
        "vbox"
    }

    fn address(&self) -> String {
        self.config.address()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::single().with_plugs().with_list()
    }

    async fn power_state(&self, plug: &str) -> Result<PowerState> {
        let plug = plug.to_owned();
        self.blocking(move |w| w.power_state(&plug)).await
    }

    async fn set_power(&self, plug: &str, state: PowerState) -> Result<()> {
        let plug = plug.to_owned();
        self.blocking(move |w| w.set_power(&plug, state)).await
    }

    async fn list(&self) -> Result<Vec<Outlet>> {
        self.blocking(|w| w.outlets()).await
    }

    async fn close(&self) -> Result<()> {
        self.blocking(|w| {
            if let Some(session) = w.inner.session.take() {
                session.disconnect();
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn new_does_no_io_and_debug_hides_the_password() {
        // An address nothing listens on: new() must not try it.
        let device =
            VboxDevice::new(VboxConfig::new("192.0.2.1", "u").password("hunter2")).unwrap();
        assert_eq!(device.logins(), 0);
        let shown = format!("{device:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(device.address(), "192.0.2.1:22");
        assert!(device.capabilities().plugs && device.capabilities().list);
    }

    #[tokio::test]
    async fn refused_connection_is_unreachable_and_fast() {
        // Bind a port, then free it: nothing listens there.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let device = VboxDevice::new(
            VboxConfig::new("127.0.0.1", "u")
                .port(port)
                .password("pw")
                .host_key_check(crate::HostKeyCheck::Off),
        )
        .unwrap();
        let started = Instant::now();
        let err = device.power_state("vm1").await.unwrap_err();
        assert_eq!(err.kind(), fence_core::ErrorKind::Unreachable, "{err}");
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        device.close().await.unwrap();
    }

    #[tokio::test]
    async fn silent_server_hits_login_timeout() {
        // A listener that accepts (the kernel completes the handshake) but never speaks SSH.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let device = VboxDevice::new(
            VboxConfig::new("127.0.0.1", "u")
                .port(port)
                .password("pw")
                .host_key_check(crate::HostKeyCheck::Off)
                .timeouts(Duration::from_millis(300), Duration::from_secs(1)),
        )
        .unwrap();
        let started = Instant::now();
        let err = device.power_state("vm1").await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), fence_core::ErrorKind::Unreachable, "{err}");
        assert!(err.to_string().contains("login_timeout"), "{err}");
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(2),
            "{took:?}"
        );
        drop(listener);
    }
}
