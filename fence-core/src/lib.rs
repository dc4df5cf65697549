//! # fence-core
//!
//! The vocabulary and the rules of the fence-rs fencing (STONITH) framework.
//!
//! Fencing is what a high-availability cluster does when a node stops answering: another
//! node switches it off through its management board or hypervisor, so that two nodes never
//! write the same shared storage. A fence agent that says "off" while the node still runs
//! corrupts data. This crate is where that is made safe: **a node counts as fenced only when
//! a status read says [`PowerState::Off`]**.
//!
//! ## APIs
//!
//! - [`PowerState`], [`Action`], [`Outcome`]: closed enums; no power state travels as a string.
//! - [`FenceDevice`]: the async trait a backend implements (read state, switch on, switch
//!   off; optionally list, cycle, diag), with [`Capabilities`] saying which optional parts
//!   it has.
//! - [`Engine`]: runs an action against any device with fence-agents' semantics (status
//!   first, set, verify by polling, `retry_on`, `delay`, `method=cycle`) and returns a
//!   [`Report`] with the evidence.
//! - [`HostMap`]: `pcmk_host_map` exactly as Pacemaker parses it, in both parser generations.
//! - [`params`]: the declarative parameter table that the CLI renders into metadata, help
//!   and parsers, and that backends extend with their own rows.
//! - [`Error`]: one error type with kinds a caller can act on and a retry hint.
//! - [`many`]: fence many targets at once, with overall and per-device concurrency caps,
//!   each target its own report, one failure never stopping the others.
//! - [`events`]: a structured [`FenceEvent`] for every action, to a callback, a channel
//!   and `tracing`.
//! - `testkit` (feature): a mockall mock of the device trait and a conformance suite.
//!
//! ## Implementations
//!
//! The backends live in their own crates: `fence-redfish` (Redfish over HTTPS),
//! `fence-ipmi` (IPMI over LAN) and `fence-vbox` (VirtualBox over SSH). This crate has no
//! network code, no TLS and no SSH.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod agent;
pub mod device;
pub mod engine;
pub mod error;
pub mod events;
pub mod hostmap;
pub mod many;
pub mod params;
pub mod power;
pub mod secret;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use device::{Capabilities, FenceDevice, Outlet};
pub use engine::{Engine, Report, Request, StateRead, Timing};
pub use error::{Answer, Context, Error, ErrorKind, InputProblem, Remedy, Result, Retry};
pub use events::FenceEvent;
pub use hostmap::{HostMap, HostMapSyntax, can_fence_static, parse_targets};
pub use many::{Limits, Many, ManyReport, Target};
pub use power::{Action, Outcome, PowerState, RebootMethod};
pub use secret::Secret;
