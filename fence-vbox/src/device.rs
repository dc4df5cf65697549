//! The VirtualBox host as a [`FenceDevice`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use fence_core::{Answer, Capabilities, Error, FenceDevice, Outlet, PowerState, Result};

use crate::config::VboxConfig;
use crate::state::{self, StateRow, Step};
use crate::vboxmanage::{self, VBoxManage, Vm};
use fence_ssh::{Counters, HostWorker, Remote, Script, StepOutput};

/// A VirtualBox host reached over SSH.
///
/// [`VboxDevice::new`] does no I/O; the first call logs in, and the session is kept for
/// every later call until [`FenceDevice::close`] (a session that failed is dropped, and the
/// next call logs in again). Calls on one device are serialised; every SSH operation runs
/// on tokio's blocking thread pool.
pub struct VboxDevice {
    config: Arc<VboxConfig>,
    inner: HostWorker<Inner>,
    counters: Arc<Counters>,
}

/// What the blocking worker owns.
struct Inner {
    vbox: VBoxManage,
    /// The host, with the SSH session of this run.
    remote: Remote,
    /// Plug -> UUID of the VM it matched, for every plug seen registered in this run.
    seen: HashMap<String, String>,
    /// UUID -> the state read last, which decides what a set sends.
    last: HashMap<String, StateRow>,
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
        let remote = Remote::new(config.ssh.clone(), config.host_os.shell());
        let counters = remote.counters();
        Ok(VboxDevice {
            config: Arc::new(config),
            inner: HostWorker::new(Inner {
                vbox,
                remote,
                seen: HashMap::new(),
                last: HashMap::new(),
            }),
            counters,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &VboxConfig {
        &self.config
    }

    /// How many SSH logins this device has made (1 in a run without failures).
    pub fn logins(&self) -> u64 {
        self.counters.logins()
    }

    /// How many remote commands (SSH channels) this device has run. One channel may run
    /// several `VBoxManage` commands (`list vms` and `list runningvms` together).
    pub fn remote_commands(&self) -> u64 {
        self.counters.commands()
    }

    /// Runs `f` with the worker state on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let config = Arc::clone(&self.config);
        self.inner
            .run(move |inner| {
                f(&mut Worker {
                    config: &config,
                    inner,
                })
            })
            .await
    }
}

struct Worker<'a> {
    config: &'a VboxConfig,
    inner: &'a mut Inner,
}

impl Worker<'_> {
    fn script(&self) -> Script {
        self.inner.remote.script()
    }

    /// Runs a script on one channel (logging in first if needed) and returns each
    /// command's output; output without its completion markers is an error.
    fn run(&mut self, script: &Script) -> Result<Vec<StepOutput>> {
        self.inner.remote.run(script)
    }

    /// Text from the host, scrubbed of the password where it enters a message.
    fn scrubbed(&self, text: &str) -> String {
        self.inner.remote.scrubbed(text)
    }

    /// VirtualBox's message from a failed command's stderr, scrubbed of the password.
    fn remote_message(&self, stderr: &str) -> String {
        self.scrubbed(&vboxmanage::error_message(stderr))
    }

    /// Runs one command.
    fn run_one(&mut self, command: String) -> Result<StepOutput> {
        self.inner.remote.run_one(command)
    }

    /// The VMs of a `list` command's output; a failed list is an error.
    fn listing(&self, command: &str, out: &StepOutput) -> Result<Vec<Vm>> {
        if out.status != 0 {
            return Err(Error::misbehaved(format!(
                "{}: `{command}` failed (exit {}): {}",
                self.config.address(),
                out.status,
                self.remote_message(&out.stderr)
            )));
        }
        Ok(vboxmanage::parse_list(&out.stdout))
    }

    /// `list vms` and `list runningvms`, on one channel.
    fn list_both(&mut self) -> Result<(Vec<Vm>, Vec<Vm>)> {
        let (vms, running) = (self.inner.vbox.list_vms(), self.inner.vbox.list_running());
        let script = self.script().step(vms.clone()).step(running.clone());
        let outs = self.run(&script)?;
        let (Some(a), Some(b)) = (outs.first(), outs.get(1)) else {
            return Err(Error::misbehaved("a script returned too little output"));
        };
        Ok((self.listing(&vms, a)?, self.listing(&running, b)?))
    }

    fn list_vms(&mut self) -> Result<Vec<Vm>> {
        let cmd = self.inner.vbox.list_vms();
        let out = self.run_one(cmd.clone())?;
        self.listing(&cmd, &out)
    }

    fn not_found(plug: &str) -> Error {
        Error::plug_not_found(plug, "the host knows no VM of that name or UUID")
    }

    /// The state of a plug. The first read of a run lists `vms` and `runningvms` on one
    /// channel: a VM listed running is On (every state runningvms lists has a process);
    /// any other VM's state is read with `showvminfo`, as is every later read.
    fn power_state(&mut self, plug: &str) -> Result<PowerState> {
        if let Some(uuid) = self.inner.seen.get(plug).cloned() {
            return Ok(match self.read_state(plug, &uuid)? {
                Some(row) => row.power,
                None => PowerState::Off,
            });
        }
        let (all, running) = self.list_both()?;
        let Some(vm) = vboxmanage::find(&all, plug) else {
            return self.missing(plug);
        };
        let uuid = vm.uuid.clone();
        self.inner.seen.insert(plug.to_owned(), uuid.clone());
        if running
            .iter()
            .any(|r| vboxmanage::same_uuid(&r.uuid, &uuid))
        {
            self.inner.last.insert(uuid, state::LISTED_RUNNING);
            return Ok(PowerState::On);
        }
        Ok(match self.read_state(plug, &uuid)? {
            Some(row) => row.power,
            None => PowerState::Off,
        })
    }

    /// Off with `missing_as_off`, else plug-not-found.
    fn missing(&self, plug: &str) -> Result<PowerState> {
        if self.config.missing_as_off {
            tracing::debug!(%plug, "no such VM; missing_as_off says Off");
            return Ok(PowerState::Off);
        }
        Err(Self::not_found(plug))
    }

    /// `showvminfo <uuid> --machinereadable`: the row of its `VMState`. `None` when the VM
    /// is gone and `missing_as_off` is set.
    fn read_state(&mut self, plug: &str, uuid: &str) -> Result<Option<StateRow>> {
        let cmd = self.inner.vbox.showvminfo(uuid)?;
        let out = self.run_one(cmd.clone())?;
        if out.status != 0 {
            if vboxmanage::is_not_found(&out.stderr) {
                self.inner.seen.remove(plug);
                self.inner.last.remove(uuid);
                return self.missing(plug).map(|_| None);
            }
            return Err(Error::misbehaved(format!(
                "{}: `{cmd}` failed (exit {}): {}",
                self.config.address(),
                out.status,
                self.remote_message(&out.stderr)
            )));
        }
        let Some(name) = state::parse_vmstate(&out.stdout) else {
            return Err(Error::misbehaved(format!(
                "{}: `{cmd}` printed no single VMState line; the state is not known",
                self.config.address()
            )));
        };
        let row = state::lookup(name);
        if row.name != name {
            tracing::warn!(
                %plug, %uuid, vmstate = %name,
                "unknown VirtualBox machine state: counted as ON (not fenced)"
            );
        }
        tracing::debug!(%plug, %uuid, vmstate = %name, power = row.power.as_str(), "VM state");
        self.inner.last.insert(uuid.to_owned(), row);
        Ok(Some(row))
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

    /// Sends what the VM's last read state needs to reach `target` (see [`state::STATES`]).
    fn set_power(&mut self, plug: &str, target: PowerState) -> Result<()> {
        let uuid = self.resolve(plug)?;
        let row = match self.inner.last.get(&uuid) {
            Some(row) => *row,
            None => match self.read_state(plug, &uuid)? {
                Some(row) => row,
                None => return Err(Self::not_found(plug)),
            },
        };
        let step = match target {
            PowerState::Off => row.to_off,
            PowerState::On => row.to_on,
        };
        let vbox = &self.inner.vbox;
        let commands = match step {
            Step::Nothing => return Ok(()),
            Step::PowerOff => vec![vbox.poweroff(&uuid)?],
            Step::DiscardState => vec![vbox.discardstate(&uuid)?],
            Step::Start => vec![vbox.startvm(&uuid)?],
            // Two channels: startvm must not run when discardstate failed, or it would
            // resume the saved image.
            Step::DiscardAndStart => vec![vbox.discardstate(&uuid)?, vbox.startvm(&uuid)?],
            Step::Wait => {
                return Err(Error::busy(format!(
                    "{}: VM {plug} is in state {} ({}): VirtualBox takes no power command until it has finished",
                    self.config.address(),
                    row.api,
                    row.name
                )));
            }
            Step::Refuse => {
                return Err(Error::unsupported(format!(
                    "{}: VM {plug} was teleported to another host (state {}): its guest runs there and cannot be powered {} from this host",
                    self.config.address(),
                    row.api,
                    target.as_str()
                )));
            }
        };
        // The state is about to change: the next set reads it again.
        self.inner.last.remove(&uuid);
        for command in commands {
            let out = self.run_one(command.clone())?;
            if out.status != 0 {
                return Err(self.refusal(plug, &command, &out));
            }
        }
        Ok(())
    }

    /// The error of a power command VirtualBox refused.
    fn refusal(&mut self, plug: &str, command: &str, out: &StepOutput) -> Error {
        let message = self.remote_message(&out.stderr);
        let answer = Answer::Exit {
            status: Some(out.status),
            stderr: message.clone(),
        };
        let error = if vboxmanage::is_not_found(&out.stderr) {
            self.inner.seen.remove(plug);
            Error::plug_not_found(plug, message)
        } else {
            let detail = format!(
                "{}: `{command}` failed (exit {}): {message}",
                self.config.address(),
                out.status
            );
            if vboxmanage::is_state_refusal(&out.stderr) {
                Error::busy(detail)
            } else {
                Error::misbehaved(detail)
            }
        };
        error.in_request(command).answered(answer)
    }

    /// `list vms` and `list runningvms` (one channel), then the state of every VM not
    /// listed running (`showvminfo` of each, on one more channel).
    fn outlets(&mut self) -> Result<Vec<Outlet>> {
        let (all, running) = self.list_both()?;
        let stopped: Vec<&Vm> = all
            .iter()
            .filter(|vm| {
                !running
                    .iter()
                    .any(|r| vboxmanage::same_uuid(&r.uuid, &vm.uuid))
            })
            .collect();
        let mut states: HashMap<String, PowerState> = HashMap::new();
        if !stopped.is_empty() {
            let mut script = self.script();
            for vm in &stopped {
                script = script.step(self.inner.vbox.showvminfo(&vm.uuid)?);
            }
            let script = script.bounded_by(stopped.len());
            let outs = self.run(&script)?;
            for (vm, out) in stopped.iter().zip(outs) {
                // A VM unregistered meanwhile, or one whose state cannot be read: not Off.
                let name = (out.status == 0)
                    .then(|| state::parse_vmstate(&out.stdout))
                    .flatten();
                let power = name.map_or(PowerState::On, |n| state::lookup(n).power);
                states.insert(vm.uuid.clone(), power);
            }
        }
        let outlets = all
            .iter()
            .map(|vm| Outlet {
                id: vm.name.clone(),
                alias: vm.uuid.clone(),
                state: Some(states.get(&vm.uuid).copied().unwrap_or(PowerState::On)),
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

    /// Disconnects the SSH session, if one is open. The device stays usable: the next
    /// call logs in again.
    async fn close(&self) -> Result<()> {
        self.blocking(|w| {
            w.inner.remote.disconnect();
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

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
