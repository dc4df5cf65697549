//! Counts the IPMI v2.0 sessions a run opens, as a tap on the benchmark's UDP relay: the
//! RMCP+ Open Session requests from the agent (the only header field it reads is the payload
//! type, which is never encrypted).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fence_test_support::relay::{UdpTap, Verdict};

/// The Open Session requests seen since the last [`take`](Self::take).
#[derive(Debug, Default, Clone)]
pub struct OpenSessions(Arc<AtomicU64>);

impl OpenSessions {
    /// The count since the last call, resetting it.
    pub fn take(&self) -> u64 {
        self.0.swap(0, Ordering::SeqCst)
    }
}

impl UdpTap for OpenSessions {
    fn to_device(&self, _client: usize, datagram: &mut Vec<u8>) -> Verdict {
        if is_open_session_request(datagram) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Verdict::Forward
    }
}

/// An RMCP+ Open Session Request: RMCP header (version 6, class IPMI 7), authentication
/// type 6 (RMCP+), payload type 0x10 (the encryption/authentication bits masked off).
fn is_open_session_request(d: &[u8]) -> bool {
    d.len() > 5 && d[0] == 0x06 && d[3] & 0x1f == 0x07 && d[4] == 0x06 && d[5] & 0x3f == 0x10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_session_requests_are_recognised() {
        // ipmitool's Open Session Request (RMCP+, payload type 0x10, session id 0)
        let open = [
            0x06, 0x00, 0xff, 0x07, 0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x00,
        ];
        assert!(is_open_session_request(&open));
        let mut rakp1 = open;
        rakp1[5] = 0x12;
        assert!(!is_open_session_request(&rakp1));
        // an IPMI v1.5 packet (authentication type 0): Get Channel Authentication Capabilities
        let mut v15 = open;
        v15[4] = 0x00;
        assert!(!is_open_session_request(&v15));
    }

    #[test]
    fn the_tap_counts_only_open_session_requests() {
        let tap = OpenSessions::default();
        let mut open = vec![0x06, 0x00, 0xff, 0x07, 0x06, 0x10, 0, 0];
        let mut other = vec![0x06, 0x00, 0xff, 0x07, 0x06, 0x12, 0, 0];
        assert_eq!(tap.to_device(0, &mut open), Verdict::Forward);
        assert_eq!(tap.to_device(0, &mut other), Verdict::Forward);
        assert_eq!(tap.clone().take(), 1);
        assert_eq!(tap.take(), 0);
    }
}
