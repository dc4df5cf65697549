//! The agent families this program serves, registered once at start
//! ([`crate::main_with`]). The library never names a backend: whoever builds the binary
//! says which families it carries.

use std::sync::OnceLock;

use fence_core::agent::AgentFamily;

static FAMILIES: OnceLock<Vec<&'static AgentFamily>> = OnceLock::new();

/// Registers the families, in `--list-agents` order. Only the first call counts.
pub(crate) fn register(families: &[&'static AgentFamily]) {
    let _ = FAMILIES.set(families.to_vec());
}

/// The registered families (none before [`register`]; in this crate's unit tests, the
/// built-in ones).
pub(crate) fn families() -> &'static [&'static AgentFamily] {
    #[cfg(test)]
    register(&[
        &fence_ipmi::AGENTS,
        &fence_redfish::AGENTS,
        &fence_vbox::AGENTS,
    ]);
    FAMILIES.get().map(Vec::as_slice).unwrap_or(&[])
}
