//! Test support shared by the crates' tests, as a crate of its own so that no test includes
//! another crate's files with `#[path]`: [`scripted_https`], an HTTPS service whose answers
//! a closure decides. Test scaffolding: a broken service panics loudly.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![allow(clippy::unwrap_used)]

pub mod scripted_https;
