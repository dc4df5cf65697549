//! # fence-ssh
//!
//! The SSH layer of fence-rs's hypervisor backends (fence-vbox, and any backend that
//! fences by running a command on a host): one blocking libssh2 session per device, built
//! from the SSH parameters every fence-agents SSH agent has.
//!
//! - [`SshTarget`]: host, port, credentials (password, key and passphrase), address
//!   family, `login_timeout` (resolution, connect, handshake and login together) and
//!   `shell_timeout` (each command), the host key policy ([`HostKeyCheck`]: OpenSSH's
//!   `accept-new` by default, `strict`, `off`) and its known_hosts file.
//! - [`SshSession`]: login within `login_timeout`, with the host key checked against
//!   known_hosts (revoked keys refused, a changed key refused with the file named); one
//!   exec channel per command, bounded, its output capped.
//! - [`Remote`]: one host as a backend drives it: the session opened on first use and
//!   kept, dropped when it failed, scripts run on it, the host's text scrubbed of the
//!   password before it enters a message.
//! - [`Script`]: commands whose completion is proven in band: after each step a marker
//!   with a per-device random tag and the exit status, on both outputs; a cut channel or a
//!   server that drops the exit status is an error, never an empty answer.
//! - [`quote`]: arguments quoted for a POSIX shell or for Windows' `cmd.exe`, so a VM or
//!   domain name reaches the command as data, never as code ([`Shell::quote`]).
//!
//! Everything here blocks: call it from tokio's blocking pool (`spawn_blocking`). Errors
//! are [`fence_core::Error`]s, so backends pass them on as they are.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod base64;
pub mod quote;
mod remote;
mod script;
mod session;
mod target;

pub use remote::{Counters, Remote};
pub use script::{Script, Shell, StepOutput, random_tag};
pub use session::{Output, SshSession};
pub use target::{HostKeyCheck, IpFamily, SshTarget, ZERO_TIMEOUT_CAP, params, sudo_path};
