//! Shared helpers for the interop tests: where the third-party peers are.
//!
//! `tests/scripts/start-peers.sh` starts the peers on loopback and writes their settings to
//! `$PEERS_DIR/peers.env`; the test command sources that file before `cargo test`, so the
//! settings reach the tests as environment variables. A test that needs a peer whose
//! variable is missing fails with a message saying how to start the peers: a missing peer
//! is a failure, never a silent skip.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod bench;
pub mod libvirt;

/// The top README, compiled as doctests (`cargo test -p fence-tests --doc`): its Rust
/// example compiles as a user copies it.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct TopReadme;

use std::path::PathBuf;

/// The value of a peer variable; panics with instructions when it is missing.
pub fn peer_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "peer setting {name} is not set: start the peers with \
             `bash tests/scripts/start-peers.sh` and `. $PEERS_DIR/peers.env`, \
             or run the whole suite with `bash tests/run-all.sh`"
        ),
    }
}

/// A peer port number.
pub fn peer_port(name: &str) -> u16 {
    let v = peer_var(name);
    v.parse()
        .unwrap_or_else(|_| panic!("peer setting {name}={v} is not a port number"))
}

/// A path from the peer settings.
pub fn peer_path(name: &str) -> PathBuf {
    PathBuf::from(peer_var(name))
}

/// The directory of the peers' state, logs and certificates (`PEERS_DIR`).
pub fn peers_dir() -> PathBuf {
    peer_path("PEERS_DIR")
}

/// Runs a command and returns its stdout; panics with its stderr when it fails to start.
pub fn run_tool(program: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}
