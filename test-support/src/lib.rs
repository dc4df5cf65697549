//! Test support shared by the crates' tests, as a crate of its own so that no test includes
//! another crate's files with `#[path]`:
//!
//! - [`agent`]: the runner of agent binaries (ours under a persona, a vendor's, Python's);
//! - [`relay`]: the UDP and TCP relay that counts and injects the network's faults;
//! - [`https`]: the HTTPS server whose answers a handler decides, and the test
//!   certificates ([`https::fixture`]);
//! - [`redfish`]: the scriptable Redfish service built on it.
//!
//! Test scaffolding: a broken service panics loudly.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![allow(clippy::unwrap_used)]

pub mod agent;
pub mod https;
pub mod redfish;
pub mod relay;
