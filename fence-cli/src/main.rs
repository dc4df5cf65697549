//! `fence-agent`: one binary that speaks the ClusterLabs fence-agents protocol under many
//! names (fence_ipmilan and its aliases, fence_redfish, fence_vbox, fence_virsh), for Pacemaker, pcs,
//! crmsh and people at a shell. The protocol is the `fence_cli` library; this binary only
//! registers the built-in backends. See README.md.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(fence_cli::main_with(&[
        &fence_ipmi::AGENTS,
        &fence_redfish::AGENTS,
        &fence_vbox::AGENTS,
        &fence_virsh::AGENTS,
    ]));
}
