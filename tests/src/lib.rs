//! Shared helpers for the interop tests (peer discovery from the environment).
