//! The [`FenceDevice`] for one libvirt host: virsh over SSH.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use fence_core::{Answer, Capabilities, Error, FenceDevice, Outlet, PowerState, Result};
use fence_ssh::{Counters, HostWorker, Remote, Shell, StepOutput};

use crate::config::VirshConfig;
use crate::state::DomainState;
use crate::virsh::{self, Virsh};

/// A libvirt host that fences its domains with virsh over SSH.
///
/// [`VirshDevice::new`] does no I/O; the first call logs in, and the session is kept for
/// every later call until [`FenceDevice::close`] (a session that failed is dropped, and the
/// next call logs in again). Calls on one device are serialised; every SSH operation runs
/// on tokio's blocking thread pool. A plug is a domain name or UUID.
pub struct VirshDevice {
    config: Arc<VirshConfig>,
    virsh: Arc<Virsh>,
    host: HostWorker<Host>,
    counters: Arc<Counters>,
}

/// What the blocking worker owns: the host, and the plugs seen as domains in this run.
struct Host {
    remote: Remote,
    /// A transient domain (`virsh create`) is gone once destroyed: a plug seen in this run
    /// and then unknown is off, not missing.
    seen: HashSet<String>,
}

impl fmt::Debug for VirshDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirshDevice")
            .field("config", &self.config)
            .field("logins", &self.logins())
            .field("remote_commands", &self.remote_commands())
            .finish()
    }
}

impl VirshDevice {
    /// A device for this host. Fails only on a `sudo_path` or `libvirt_uri` that cannot be
    /// quoted for the host's shell (a NUL). No I/O.
    pub fn new(config: VirshConfig) -> Result<VirshDevice> {
        let virsh = Virsh::new(&config)?;
        let remote = Remote::new(config.ssh.clone(), Shell::Posix);
        let counters = remote.counters();
        Ok(VirshDevice {
            config: Arc::new(config),
            virsh: Arc::new(virsh),
            host: HostWorker::new(Host {
                remote,
                seen: HashSet::new(),
            }),
            counters,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &VirshConfig {
        &self.config
    }

    /// How many SSH logins this device has made (1 in a run without failures).
    pub fn logins(&self) -> u64 {
        self.counters.logins()
    }

    /// How many remote commands (SSH channels) this device has run.
    pub fn remote_commands(&self) -> u64 {
        self.counters.commands()
    }

    /// Runs `f` with the host on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Host, &VirshConfig, &Virsh) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let config = Arc::clone(&self.config);
        let virsh = Arc::clone(&self.virsh);
        self.host.run(move |host| f(host, &config, &virsh)).await
    }
}

/// The error of a virsh command that failed, with what the host answered.
fn failure(
    remote: &Remote,
    config: &VirshConfig,
    plug: &str,
    command: &str,
    out: &StepOutput,
) -> Error {
    let message = remote.scrubbed(&virsh::error_message(&out.stderr));
    let answer = Answer::Exit {
        status: Some(out.status),
        stderr: message.clone(),
    };
    let detail = || {
        format!(
            "{}: `{command}` failed (exit {}): {message}",
            config.address(),
            out.status
        )
    };
    let error = if virsh::is_no_domain(&out.stderr) {
        Error::plug_not_found(plug, message.clone())
    } else if virsh::is_transient(&out.stderr) {
        Error::busy(detail())
    } else {
        Error::misbehaved(detail())
    };
    error.in_request(command).answered(answer)
}

/// `virsh domstate` of `plug`; `None` for an unknown domain with `missing_as_off`, and for
/// one seen in this run that is gone (a transient domain, destroyed).
fn domstate(
    host: &mut Host,
    config: &VirshConfig,
    virsh: &Virsh,
    plug: &str,
) -> Result<Option<DomainState>> {
    let command = virsh.domstate(plug)?;
    let out = host.remote.run_one(command.clone())?;
    if out.status != 0 {
        let gone = virsh::is_no_domain(&out.stderr);
        if gone && (config.missing_as_off || host.seen.contains(plug)) {
            return Ok(None);
        }
        return Err(failure(&host.remote, config, plug, &command, &out));
    }
    let line = out.stdout.lines().map(str::trim).find(|l| !l.is_empty());
    match line.and_then(DomainState::parse) {
        Some(state) => {
            host.seen.insert(plug.to_owned());
            Ok(Some(state))
        }
        None => Err(Error::misbehaved(format!(
            "{}: `{command}` printed no domain state: {:?}",
            config.address(),
            host.remote.scrubbed(line.unwrap_or(""))
        ))
        .in_request(&command)),
    }
}

#[async_trait]
impl FenceDevice for VirshDevice {
    fn backend(&self) -> &'static str {
        "virsh"
    }

    fn address(&self) -> String {
        self.config.address()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::single().with_plugs().with_list()
    }

    /// On for every state but `shut off` (see [`crate::state`]); Off for an unknown domain
    /// with `missing_as_off`, and for a domain read earlier in the run that is gone (a
    /// transient domain, after `destroy`).
    async fn power_state(&self, plug: &str) -> Result<PowerState> {
        let plug = plug.to_owned();
        self.blocking(move |host, config, virsh| {
            let state = domstate(host, config, virsh, &plug)?;
            tracing::debug!(%plug, state = state.map(DomainState::word), "domain state");
            Ok(state.map_or(PowerState::Off, DomainState::power))
        })
        .await
    }

    /// `virsh start --force-boot` for on (never a managed-save image's resume), `virsh
    /// destroy` for off (also of a paused, suspended, crashed or shutting-down domain, which
    /// is not off). A refusal that passes by itself (a state change lock held) is `Busy`.
    async fn set_power(&self, plug: &str, state: PowerState) -> Result<()> {
        let plug = plug.to_owned();
        self.blocking(move |host, config, virsh| {
            let command = match state {
                PowerState::On => virsh.start(&plug)?,
                PowerState::Off => virsh.destroy(&plug)?,
            };
            let out = host.remote.run_one(command.clone())?;
            if out.status == 0 {
                Ok(())
            } else {
                Err(failure(&host.remote, config, &plug, &command, &out))
            }
        })
        .await
    }

    /// `virsh list --all`: every domain with its state (the name is the plug; the alias is
    /// empty, as fence_virsh prints it).
    async fn list(&self) -> Result<Vec<Outlet>> {
        self.blocking(move |host, config, virsh| {
            let command = virsh.list();
            let out = host.remote.run_one(command.clone())?;
            if out.status != 0 {
                return Err(failure(&host.remote, config, "", &command, &out));
            }
            Ok(virsh::parse_list(&out.stdout)
                .into_iter()
                .map(|(name, state)| Outlet {
                    id: name,
                    alias: String::new(),
                    state: Some(state.power()),
                })
                .collect())
        })
        .await
    }

    /// Disconnects the SSH session, if one is open. The device stays usable: the next
    /// call logs in again.
    async fn close(&self) -> Result<()> {
        self.blocking(|host, _, _| {
            host.remote.disconnect();
            Ok(())
        })
        .await
    }
}
