//! fence-acme: the backend of a (made-up) ACME power board, written as a vendor would write
//! it, on fence-rs's public APIs only. See docs/writing-a-backend.md, which walks through
//! this crate in order.
//!
//! The board speaks one line per request over TCP (port 7000 by default):
//! `LOGIN <user> <password>` → `OK` or `DENIED`; `STATUS` → `ON` or `OFF`;
//! `POWER ON` / `POWER OFF` → `OK` (the switch takes effect a moment later). The simulator
//! ([`sim`]) is the board's reference implementation, used by the tests.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod config;
mod device;
pub mod sim;

pub use config::AcmeConfig;
pub use device::AcmeDevice;

use fence_core::FenceDevice;
use fence_core::agent::{AgentFamily, FailureWording, Persona, Plugs};
use fence_core::params::{Options, ParamSpec, common};

/// The board's TCP port.
pub const DEFAULT_PORT: u16 = 7000;

/// `ipport`: the board listens on 7000.
pub const IPPORT: ParamSpec = common::IPPORT.default_value("7000");

/// The parameter rows of fence_acme besides the ones every agent has.
pub fn params() -> Vec<ParamSpec> {
    vec![
        common::IP,
        IPPORT,
        common::USERNAME,
        common::PASSWORD,
        common::PASSWORD_SCRIPT,
        common::PLUG.required(false),
        common::PORT_AS_IP,
    ]
}

/// The agent this crate serves, for [`fence_cli::main_with`].
pub static AGENTS: AgentFamily = AgentFamily {
    personas: &[Persona {
        name: "fence_acme",
        shortdesc: "Fence agent for ACME power boards",
        defaults: &[],
    }],
    longdesc: "{invoked} is a Power Fencing agent for ACME power boards, which switch one \
machine each over a line protocol on TCP.",
    vendor_url: "https://acme.invalid/",
    plugs: Plugs::PortAsIp,
    needs_password: true,
    accepts_diag: false,
    failure: FailureWording {
        plug_not_found: None,
        login_or_unreachable: None,
        any: None,
        cycle: None,
    },
    params,
    build: build_device,
};

/// [`AgentFamily::build`]: the configuration from the options, then the device (no I/O).
fn build_device(options: &Options) -> fence_core::Result<Box<dyn FenceDevice>> {
    Ok(Box::new(AcmeDevice::new(AcmeConfig::from_options(
        options,
    )?)))
}
