//! Sessions of the session service: a token per session, an idle timeout, a limit.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a session was not opened.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The limit of open sessions is reached.
    Full,
}

struct Session {
    token: String,
    last_used: Instant,
}

/// The open sessions.
pub(crate) struct Sessions {
    timeout: Duration,
    limit: Option<usize>,
    open: Mutex<(u64, BTreeMap<u64, Session>)>,
}

impl Sessions {
    /// No session yet; sessions idle for `timeout` end, at most `limit` at once.
    pub(crate) fn new(timeout: Duration, limit: Option<usize>) -> Sessions {
        Sessions {
            timeout,
            limit,
            open: Mutex::new((1, BTreeMap::new())),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, (u64, BTreeMap<u64, Session>)> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let timeout = self.timeout;
        open.1.retain(|_, s| s.last_used.elapsed() < timeout);
        open
    }

    /// Opens a session: its id and token.
    pub(crate) fn open(&self) -> Result<(u64, String), Refused> {
        let mut open = self.live();
        if self.limit.is_some_and(|limit| open.1.len() >= limit) {
            return Err(Refused::Full);
        }
        let id = open.0;
        open.0 += 1;
        let token: String = (0..32)
            .map(|_| char::from(b"0123456789abcdef"[rand::random::<usize>() % 16]))
            .collect();
        open.1.insert(
            id,
            Session {
                token: token.clone(),
                last_used: Instant::now(),
            },
        );
        Ok((id, token))
    }

    /// The session whose token this is, marked as used now.
    pub(crate) fn authenticate(&self, token: &str) -> Option<u64> {
        let mut open = self.live();
        let (id, session) = open.1.iter_mut().find(|(_, s)| s.token == token)?;
        session.last_used = Instant::now();
        Some(*id)
    }

    /// Whether session `id` is open.
    pub(crate) fn exists(&self, id: u64) -> bool {
        self.live().1.contains_key(&id)
    }

    /// Ends session `id`; false when it was not open.
    pub(crate) fn close(&self, id: u64) -> bool {
        self.live().1.remove(&id).is_some()
    }

    /// The ids of the open sessions.
    pub(crate) fn ids(&self) -> Vec<u64> {
        self.live().1.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens are 128 independent random bits each (DMTF's Protocol Validator tests one
    /// token at a time, which flags 2% of random ones; see fence-sim/tests/dmtf_validators.rs).
    /// NIST SP 800-22's monobit statistic over 2000 tokens (256 000 bits) stays below 5.5 for
    /// a random source except with probability ~4e-8; a stuck or biased generator (a counter,
    /// a short alphabet) is far above it or repeats a token.
    #[test]
    fn tokens_are_independent_random_bits() {
        let s = Sessions::new(Duration::from_secs(60), None);
        let tokens: Vec<String> = (0..2000).map(|_| s.open().unwrap().1).collect();
        let distinct: std::collections::HashSet<&String> = tokens.iter().collect();
        assert_eq!(distinct.len(), tokens.len(), "a token repeated");
        let mut sum: i64 = 0;
        let mut bits: i64 = 0;
        for t in &tokens {
            assert_eq!(t.len(), 32, "{t}");
            for c in t.chars() {
                let v = c.to_digit(16).unwrap_or_else(|| panic!("not hex: {t}"));
                for b in 0..4 {
                    sum += if v >> b & 1 == 1 { 1 } else { -1 };
                    bits += 1;
                }
            }
        }
        let statistic = (sum.abs() as f64) / (bits as f64).sqrt();
        assert!(
            statistic < 5.5,
            "monobit statistic {statistic} over {bits} bits"
        );
    }

    #[test]
    fn a_session_ends_when_idle_and_the_limit_holds() {
        let s = Sessions::new(Duration::from_secs(1), Some(1));
        let (id, token) = s.open().unwrap();
        assert_eq!(s.open(), Err(Refused::Full));
        assert_eq!(s.authenticate(&token), Some(id));
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(s.authenticate(&token), None);
        assert!(s.open().is_ok());
    }
}
