//! One UDP socket to a BMC: request/response exchanges with retransmission and a bound
//! (the schedule is described in [`crate::client`]), and counters of what went over the
//! wire.

use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};

use fence_core::{Error, Result};

use crate::config::{IpmiConfig, RetryPolicy};

/// Counts of what went over the wire, for tests and measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Request/response exchanges started (round trips, retransmissions not counted).
    pub round_trips: u32,
    /// Datagrams sent, retransmissions included.
    pub datagrams_sent: u32,
    /// Datagrams received (valid or not).
    pub datagrams_received: u32,
    /// Sessions opened.
    pub sessions_opened: u32,
    /// Sessions closed with an answered Close Session.
    pub sessions_closed: u32,
}

/// Shared, lock-free counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) round_trips: AtomicU32,
    pub(crate) sent: AtomicU32,
    pub(crate) received: AtomicU32,
    pub(crate) opened: AtomicU32,
    pub(crate) closed: AtomicU32,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            round_trips: self.round_trips.load(Ordering::Relaxed),
            datagrams_sent: self.sent.load(Ordering::Relaxed),
            datagrams_received: self.received.load(Ordering::Relaxed),
            sessions_opened: self.opened.load(Ordering::Relaxed),
            sessions_closed: self.closed.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn bump(c: &AtomicU32) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// A connected UDP socket with the retransmission policy.
pub(crate) struct Transport {
    pub(crate) socket: UdpSocket,
    /// A second handle on the same socket, for the non-blocking Close Session on drop.
    pub(crate) std_socket: StdUdpSocket,
    pub(crate) address: String,
    pub(crate) retry: RetryPolicy,
    pub(crate) counters: Arc<Counters>,
    /// The longest round trip answered on a first transmission, in microseconds (0: none
    /// yet).
    rtt_max_micros: AtomicU64,
    /// Datagrams received on this socket that did not decode as an answer.
    invalid: AtomicU32,
}

/// What an answer filter says about a datagram.
pub(crate) type Verdict<T> = Result<Option<T>>;

impl Transport {
    pub(crate) async fn connect(config: &IpmiConfig, counters: Arc<Counters>) -> Result<Transport> {
        let address = config.address();
        let deadline = Instant::now() + config.retry.bound();
        let lookup = tokio::net::lookup_host((config.host.as_str(), config.port));
        let addrs: Vec<SocketAddr> = match timeout_at(deadline, lookup).await {
            Err(_) => {
                return Err(Error::unreachable(format!(
                    "{address}: name lookup did not finish within {:.1} s",
                    config.retry.bound().as_secs_f64()
                )));
            }
            Ok(Err(e)) => {
                return Err(Error::unreachable_with(
                    format!("{address}: cannot resolve host"),
                    e,
                ));
            }
            Ok(Ok(a)) => a.collect(),
        };
        let peer = *addrs
            .first()
            .ok_or_else(|| Error::unreachable(format!("{address}: host has no address")))?;
        let local: SocketAddr = if peer.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let io = |what: &str, e: std::io::Error| {
            Error::unreachable_with(format!("{address}: {what}"), e)
        };
        let std_socket =
            StdUdpSocket::bind(local).map_err(|e| io("cannot bind a UDP socket", e))?;
        std_socket
            .connect(peer)
            .map_err(|e| io("cannot connect the UDP socket", e))?;
        std_socket
            .set_nonblocking(true)
            .map_err(|e| io("cannot make the UDP socket non-blocking", e))?;
        let clone = std_socket
            .try_clone()
            .map_err(|e| io("cannot clone the UDP socket", e))?;
        let socket =
            UdpSocket::from_std(std_socket).map_err(|e| io("cannot register the UDP socket", e))?;
        Ok(Transport {
            socket,
            std_socket: clone,
            address,
            retry: config.retry,
            counters,
            rtt_max_micros: AtomicU64::new(0),
            invalid: AtomicU32::new(0),
        })
    }

    /// The longest round trip seen so far, if the BMC has answered.
    /// True when a datagram that was no valid answer arrived on this socket: during session
    /// setup that means the BMC still holds state for this source port (a stale session of
    /// an earlier client that had the same port), which a new socket avoids.
    pub(crate) fn saw_invalid(&self) -> bool {
        self.invalid.load(Ordering::Relaxed) > 0
    }

    fn rtt(&self) -> Option<std::time::Duration> {
        match self.rtt_max_micros.load(Ordering::Relaxed) {
            0 => None,
            us => Some(std::time::Duration::from_micros(us)),
        }
    }

    fn note_rtt(&self, rtt: std::time::Duration) {
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).max(1);
        self.rtt_max_micros.fetch_max(us, Ordering::Relaxed);
    }

    fn io_error(&self, what: &str, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            Error::unreachable_with(
                format!(
                    "{}: {what}: connection refused (nothing listens on that UDP port)",
                    self.address
                ),
                e,
            )
        } else {
            Error::unreachable_with(format!("{}: {what}", self.address), e)
        }
    }

    /// One request/response exchange. `make(n)` builds the n-th transmission (0 first);
    /// `accept` decodes a datagram: `Ok(Some(v))` ends the exchange, `Ok(None)` ignores a
    /// datagram that belongs to something else, `Err(e)` ignores an invalid one (and `e`
    /// is reported if nothing valid arrives before the bound).
    pub(crate) async fn exchange<T>(
        &self,
        what: &str,
        mut make: impl FnMut(usize) -> Result<Vec<u8>>,
        accept: impl FnMut(&[u8]) -> Verdict<T>,
    ) -> Result<T> {
        self.exchange_multi(what, &self.retry, |n| make(n).map(|d| vec![d]), accept)
            .await
    }

    /// [`Transport::exchange`] with its own retry policy, where each transmission may be
    /// several datagrams (sent back to back).
    pub(crate) async fn exchange_multi<T>(
        &self,
        what: &str,
        retry: &RetryPolicy,
        mut make: impl FnMut(usize) -> Result<Vec<Vec<u8>>>,
        mut accept: impl FnMut(&[u8]) -> Verdict<T>,
    ) -> Result<T> {
        Counters::bump(&self.counters.round_trips);
        let schedule = match self.rtt() {
            Some(rtt) => retry.schedule_after_answer(rtt),
            None => retry.schedule(),
        };
        let start = Instant::now();
        let deadline = start + retry.bound();
        let mut buf = vec![0u8; 2048];
        let mut last_invalid: Option<Error> = None;
        for (n, _) in schedule.iter().enumerate() {
            for datagram in make(n)? {
                if let Err(e) = self.socket.send(&datagram).await {
                    return Err(self.io_error(&format!("sending {what}"), e));
                }
                Counters::bump(&self.counters.sent);
            }
            if n > 0 {
                tracing::debug!(address = %self.address, what, attempt = n + 1, "retransmission");
            }
            let until = schedule.get(n + 1).map_or(deadline, |t| start + *t);
            loop {
                match timeout_at(until, self.socket.recv(&mut buf)).await {
                    Err(_) => break,
                    Ok(Err(e)) => {
                        return Err(self.io_error(&format!("waiting for the answer to {what}"), e));
                    }
                    Ok(Ok(len)) => {
                        Counters::bump(&self.counters.received);
                        match accept(&buf[..len]) {
                            Ok(Some(v)) => {
                                if n == 0 {
                                    // Karn: only exchanges answered on their first
                                    // transmission give a round-trip sample.
                                    self.note_rtt(start.elapsed());
                                }
                                return Ok(v);
                            }
                            Ok(None) => {
                                tracing::trace!(address = %self.address, what, "ignored an unrelated datagram");
                            }
                            Err(e) => {
                                tracing::debug!(address = %self.address, what, error = %e, "ignored an invalid datagram");
                                self.invalid.fetch_add(1, Ordering::Relaxed);
                                last_invalid = Some(e);
                            }
                        }
                    }
                }
            }
        }
        let bound = retry.bound().as_secs_f64();
        Err(match last_invalid {
            Some(e) => {
                let why = match e {
                    Error::Misbehaved { detail, .. } => detail,
                    other => other.to_string(),
                };
                Error::misbehaved(format!(
                    "{}: no valid answer to {what} within {bound:.1} s; last datagram: {why}",
                    self.address
                ))
            }
            None => Error::unreachable(format!(
                "{}: no answer to {what} within {bound:.1} s ({} transmissions)",
                self.address,
                schedule.len()
            )),
        }
        .in_request(what))
    }
}
