//! test kit (placeholder)
