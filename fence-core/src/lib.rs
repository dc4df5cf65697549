#![doc = include_str!("../README.md")]
//!
//! ## Where to start
//!
//! [`FenceDevice`] (the trait of a backend) with [`Capabilities`]; [`Engine`], [`Request`],
//! [`Timing`] and [`Report`] (running an action); [`PowerState`], [`Action`], [`Outcome`];
//! [`HostMap`] (`pcmk_host_map`); [`params`] (the parameter table); [`Error`] and
//! [`ErrorKind`]; [`Secret`]; [`many`] (many targets at once); [`events`] ([`FenceEvent`]);
//! `testkit` (feature `testkit`: the mock device and the conformance suite).
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
