#![doc = include_str!("../README.md")]
//!
//! ## Where to start
//!
//! [`SshTarget`] (where and how to log in; [`HostKeyCheck`]), [`SshSession`] (one bounded
//! login, bounded commands), [`Remote`] (a host as a backend drives it), [`Script`] and
//! [`Shell`] (commands whose completion is proven in band), [`quote`], [`params`] (the SSH
//! rows of every fence-agents SSH agent). Everything here blocks: call it from tokio's
//! blocking pool ([`HostWorker`] does, one call at a time). Errors are [`fence_core::Error`]s.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod base64;
pub mod quote;
mod remote;
mod script;
mod session;
mod target;
mod worker;

pub use remote::{Counters, Remote};
pub use script::{Script, Shell, StepOutput, random_tag};
pub use session::{Output, SshSession};
pub use target::{HostKeyCheck, IpFamily, SshTarget, ZERO_TIMEOUT_CAP, params, sudo_path};
pub use worker::HostWorker;
