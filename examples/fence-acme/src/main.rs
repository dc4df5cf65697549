//! `fence-acme-agent`: a vendor's multi-call agent binary. Called as `fence_acme` (a link)
//! or `fence-acme-agent fence_acme ...`, it speaks the fence-agents protocol through
//! fence-cli's library; it carries only the ACME family.

fn main() {
    std::process::exit(fence_cli::main_with(&[&fence_acme::AGENTS]));
}
