#![doc = include_str!("../README.md")]
//!
//! ## Where to start
//!
//! - [`redfish`]: Redfish over HTTPS with a certificate made at start, basic and session
//!   authentication, any number of systems per service and of services per process, laid
//!   out and answering as a vendor profile says (`generic`, `ilo5`, `idrac9`, `xcc`,
//!   `supermicro`, `openbmc`); DMTF's validators accept it in each (above).
//! - [`ipmi`]: IPMI v2.0 RMCP+ (cipher suite 3: RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128)
//!   and IPMI v1.5 sessions (MD5, straight password) over UDP, one port per BMC, built on
//!   fence-ipmi-proto's packet formats and crypto.
//! - [`Machine`]: the simulated machine behind a BMC, and [`Faults`]: no answer, a share of
//!   datagrams dropped, resets refused, a BMC that says Off was accepted and stays On.
//!
//! Start simulators in-process from a test:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fence_sim::redfish::{RedfishConfig, RedfishSim};
//!
//! let sim = RedfishSim::start(RedfishConfig { systems: 3, ..RedfishConfig::default() }).await?;
//! let service = &sim.services()[0];
//! println!("{} {}", service.url(), service.system_uri(0));
//! std::fs::write("ca.pem", sim.ca_pem())?;
//! # Ok(()) }
//! ```
//!
//! The `fence-sim` binary runs the same from the command line (`fence-sim --help`).
#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

use std::sync::Arc;

pub mod ipmi;
pub mod machine;
pub mod redfish;

pub use machine::{Faults, Machine, PowerHook};

/// Something a simulator saw or did: a connection, a request, a datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `redfish` or `ipmi`.
    pub kind: &'static str,
    /// Which service or BMC of the simulator (0-based).
    pub instance: usize,
    /// What happened, for a log line.
    pub what: String,
}

/// A callback for [`Event`]s (for logs and round-trip counts).
pub type Observer = Arc<dyn Fn(&Event) + Send + Sync>;
