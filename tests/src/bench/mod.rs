//! The side-by-side benchmark of fence-rs against Debian's Python fence agents (issue 8),
//! used by the `bench_agents` binary. Run it with `bash tests/bench/agents.sh`.

pub mod report;
pub mod run;
pub mod sessions;
pub mod sim;
pub mod targets;
