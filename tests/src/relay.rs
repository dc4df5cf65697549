//! Fault-injecting relays for the fault tests: a UDP relay that forwards IPMI datagrams
//! and loses some of them (with a seeded random generator, so a failure can be replayed),
//! or stops forwarding after a number of datagrams; a TCP relay that forwards, stops
//! forwarding (a stalled device) or cuts the connection after a number of bytes from the
//! device, or accepts connections and never says anything.
//!
//! Every relay listens on 127.0.0.1 port 0 and runs on the current tokio runtime until it
//! is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// A small seeded random generator (xorshift64*): the same seed loses the same datagrams.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator from `seed` (0 is replaced by a fixed non-zero value).
    pub fn new(seed: u64) -> Self {
        SeededRng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next value in 0.0..1.0.
    pub fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (v >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What a [`UdpRelay`] does with datagrams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UdpFault {
    /// Forward both ways, losing each datagram (either direction) with probability
    /// `share`, decided by a generator seeded with `seed`.
    Drop {
        /// The share of datagrams lost, 0.0 to 1.0.
        share: f64,
        /// The seed of the generator.
        seed: u64,
    },
    /// Forward the first `n` datagrams from the client (and every answer to them), then
    /// nothing more: the device goes silent in the middle of a session.
    StopAfter(u64),
    /// Receive and never forward nor answer.
    BlackHole,
    /// Forward every datagram twice, both ways (a duplicating network; the second copy of
    /// an answer arrives while the client already waits for the next one).
    Duplicate,
}

/// Counts of a relay.
#[derive(Debug, Default)]
pub struct RelayCounts {
    /// Datagrams (UDP) or connections (TCP) received from clients.
    pub from_client: AtomicU64,
    /// Datagrams or bytes received from the device.
    pub from_device: AtomicU64,
    /// Datagrams lost on purpose.
    pub dropped: AtomicU64,
}

impl RelayCounts {
    /// A snapshot: (from client, from device, dropped).
    pub fn get(&self) -> (u64, u64, u64) {
        (
            self.from_client.load(Ordering::Relaxed),
            self.from_device.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        )
    }
}

/// A UDP relay in front of one device, for one client at a time.
#[derive(Debug)]
pub struct UdpRelay {
    addr: SocketAddr,
    counts: Arc<RelayCounts>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl UdpRelay {
    /// Starts a relay to `device` with this fault.
    pub async fn start(device: SocketAddr, fault: UdpFault) -> std::io::Result<UdpRelay> {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        back.connect(device).await?;
        let addr = front.local_addr()?;
        let counts = Arc::new(RelayCounts::default());
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
        let rng = Arc::new(Mutex::new(SeededRng::new(match fault {
            UdpFault::Drop { seed, .. } => seed,
            _ => 1,
        })));
        let lose = {
            let rng = Arc::clone(&rng);
            move || match fault {
                UdpFault::Drop { share, .. } => {
                    rng.lock().unwrap_or_else(|e| e.into_inner()).next_f64() < share
                }
                _ => false,
            }
        };
        let up = {
            let (front, back, counts, client) = (
                Arc::clone(&front),
                Arc::clone(&back),
                Arc::clone(&counts),
                Arc::clone(&client),
            );
            let lose = lose.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok((n, from)) = front.recv_from(&mut buf).await {
                    let seen = counts.from_client.fetch_add(1, Ordering::Relaxed) + 1;
                    *client.lock().unwrap_or_else(|e| e.into_inner()) = Some(from);
                    let forward = match fault {
                        UdpFault::BlackHole => false,
                        UdpFault::StopAfter(limit) => seen <= limit,
                        UdpFault::Drop { .. } => !lose(),
                        UdpFault::Duplicate => true,
                    };
                    if forward {
                        let _ = back.send(&buf[..n]).await;
                        if fault == UdpFault::Duplicate {
                            let _ = back.send(&buf[..n]).await;
                        }
                    } else {
                        counts.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        let down = {
            let (front, counts, client) =
                (Arc::clone(&front), Arc::clone(&counts), Arc::clone(&client));
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = back.recv(&mut buf).await {
                    counts.from_device.fetch_add(1, Ordering::Relaxed);
                    let to = *client.lock().unwrap_or_else(|e| e.into_inner());
                    let stopped = match fault {
                        UdpFault::StopAfter(limit) => {
                            counts.from_client.load(Ordering::Relaxed) > limit
                        }
                        UdpFault::BlackHole => true,
                        UdpFault::Drop { .. } => lose(),
                        UdpFault::Duplicate => false,
                    };
                    match to {
                        Some(to) if !stopped => {
                            let _ = front.send_to(&buf[..n], to).await;
                            if fault == UdpFault::Duplicate {
                                let _ = front.send_to(&buf[..n], to).await;
                            }
                        }
                        _ => {
                            counts.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        };
        Ok(UdpRelay {
            addr,
            counts,
            tasks: vec![up, down],
        })
    }

    /// The port clients send to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The relay's counts.
    pub fn counts(&self) -> &RelayCounts {
        &self.counts
    }
}

/// What a [`TcpRelay`] does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpFault {
    /// Forward both ways.
    Forward,
    /// Accept connections, never connect to the device and never send a byte: a hung
    /// device whose TCP stack still accepts.
    Silent,
    /// Forward until `n` bytes came from the device, then forward nothing more either way
    /// and keep the connection open: the device stalls in the middle of a conversation.
    StallAfter(u64),
    /// Forward until `n` bytes came from the device, then close the connection (the client
    /// sees the connection dropped in the middle of a command).
    CutAfter(u64),
}

/// A TCP relay in front of one device.
#[derive(Debug)]
pub struct TcpRelay {
    addr: SocketAddr,
    counts: Arc<RelayCounts>,
    task: JoinHandle<()>,
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TcpRelay {
    /// Starts a relay to `device` with this fault.
    pub async fn start(device: SocketAddr, fault: TcpFault) -> std::io::Result<TcpRelay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(RelayCounts::default());
        let c = Arc::clone(&counts);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((client, _)) = listener.accept().await {
                c.from_client.fetch_add(1, Ordering::Relaxed);
                if fault == TcpFault::Silent {
                    // Keep it open, say nothing.
                    held.push(client);
                    continue;
                }
                let c = Arc::clone(&c);
                tokio::spawn(async move {
                    if let Ok(upstream) = TcpStream::connect(device).await {
                        relay_connection(client, upstream, fault, c).await;
                    }
                });
            }
        });
        Ok(TcpRelay { addr, counts, task })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The relay's counts (`from_device` counts bytes).
    pub fn counts(&self) -> &RelayCounts {
        &self.counts
    }
}

async fn relay_connection(
    client: TcpStream,
    upstream: TcpStream,
    fault: TcpFault,
    counts: Arc<RelayCounts>,
) {
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut up_rd, mut up_wr) = upstream.into_split();
    let limit = match fault {
        TcpFault::StallAfter(n) | TcpFault::CutAfter(n) => Some(n),
        _ => None,
    };
    let stalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let to_device = {
        let stalled = Arc::clone(&stalled);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16384];
            while let Ok(n) = client_rd.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if stalled.load(Ordering::Relaxed) {
                    continue; // swallow: the device no longer hears
                }
                if up_wr.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            // Keep the half open while stalled so that the client sees no EOF.
            std::future::pending::<()>().await;
        })
    };
    let mut buf = vec![0u8; 16384];
    let mut total: u64 = 0;
    while let Ok(n) = up_rd.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let allowed = match limit {
            Some(l) => usize::try_from(l.saturating_sub(total))
                .unwrap_or(usize::MAX)
                .min(n),
            None => n,
        };
        total += n as u64;
        counts.from_device.fetch_add(n as u64, Ordering::Relaxed);
        if allowed > 0 && client_wr.write_all(&buf[..allowed]).await.is_err() {
            break;
        }
        if limit.is_some_and(|l| total >= l) {
            match fault {
                TcpFault::CutAfter(_) => {
                    let _ = client_wr.shutdown().await;
                    to_device.abort();
                    return;
                }
                _ => {
                    stalled.store(true, Ordering::Relaxed);
                    // Read and discard whatever the device still says; the client hears
                    // nothing more.
                    while let Ok(n) = up_rd.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    let _ = client_wr.shutdown().await;
    to_device.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_losses() {
        let mut a = SeededRng::new(7);
        let mut b = SeededRng::new(7);
        let xs: Vec<f64> = (0..100).map(|_| a.next_f64()).collect();
        let ys: Vec<f64> = (0..100).map(|_| b.next_f64()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let low = xs.iter().filter(|x| **x < 0.3).count();
        assert!((15..=45).contains(&low), "{low} of 100 below 0.3");
    }
}
