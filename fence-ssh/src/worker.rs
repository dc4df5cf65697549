//! A backend's SSH state, used from async code: every call runs on tokio's blocking pool
//! (everything in this crate blocks), one call at a time.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use fence_core::{Error, Result};

/// The state a hypervisor backend keeps for one host (its [`crate::Remote`], what it saw in
/// this run), behind a lock that serialises calls. A call that panicked leaves the state as
/// it was (the lock's poison is ignored: the session it held is dropped or reused by the
/// next call, as after any failure).
pub struct HostWorker<S> {
    state: Arc<Mutex<S>>,
}

impl<S> fmt::Debug for HostWorker<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostWorker")
    }
}

impl<S: Send + 'static> HostWorker<S> {
    /// A worker owning `state`.
    pub fn new(state: S) -> Self {
        HostWorker {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Runs `f` with the state on tokio's blocking pool, after any call still running; a
    /// worker thread that could not finish (the runtime shutting down) is
    /// [`Error::interrupted`].
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let state = Arc::clone(&self.state);
        tokio::task::spawn_blocking(move || {
            let mut guard = state.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::interrupted(format!("SSH worker: {e}")))?
    }
}
