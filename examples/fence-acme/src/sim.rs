//! A simulated ACME board: the reference implementation of the line protocol, for tests and
//! demos. Listens on 127.0.0.1, a free port; `POWER` takes effect after `delay`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

/// The simulated machine: on or off, and a pending switch.
#[derive(Debug)]
struct Power {
    on: bool,
    pending: Option<(bool, Instant)>,
}

impl Power {
    fn now(&mut self) -> bool {
        if let Some((on, at)) = self.pending
            && Instant::now() >= at
        {
            self.on = on;
            self.pending = None;
        }
        self.on
    }
}

/// One running simulated board.
#[derive(Debug)]
pub struct AcmeSim {
    /// Where it listens.
    pub addr: SocketAddr,
    power: Arc<Mutex<Power>>,
    journal: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl AcmeSim {
    /// Starts a board (machine on) for `username`/`password`; `POWER` takes `delay`.
    pub async fn start(
        username: &str,
        password: &str,
        delay: Duration,
    ) -> std::io::Result<AcmeSim> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let power = Arc::new(Mutex::new(Power {
            on: true,
            pending: None,
        }));
        let journal = Arc::new(Mutex::new(Vec::new()));
        let login = format!("LOGIN {username} {password}");
        let (shared, shared_journal) = (power.clone(), journal.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (power, login) = (shared.clone(), login.clone());
                let journal = shared_journal.clone();
                tokio::spawn(async move {
                    let mut conn = BufReader::new(stream);
                    let mut logged_in = false;
                    let mut line = String::new();
                    while matches!(conn.read_line(&mut line).await, Ok(n) if n > 0) {
                        let request = line.trim_end().to_owned();
                        line.clear();
                        let answer = if request.starts_with("LOGIN ") {
                            logged_in = request == login;
                            if logged_in { "OK" } else { "DENIED" }
                        } else if !logged_in {
                            "DENIED"
                        } else {
                            let Ok(mut p) = power.lock() else { break };
                            match request.as_str() {
                                "STATUS" => {
                                    if p.now() {
                                        "ON"
                                    } else {
                                        "OFF"
                                    }
                                }
                                "POWER ON" | "POWER OFF" => {
                                    p.pending =
                                        Some((request == "POWER ON", Instant::now() + delay));
                                    if let Ok(mut j) = journal.lock() {
                                        j.push(request.clone());
                                    }
                                    "OK"
                                }
                                _ => "ERROR unknown request",
                            }
                        };
                        if conn
                            .get_mut()
                            .write_all(format!("{answer}\n").as_bytes())
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                });
            }
        });
        Ok(AcmeSim {
            addr,
            power,
            journal,
            task,
        })
    }

    /// The power commands the board accepted, oldest first (`POWER OFF`, `POWER ON`).
    pub fn journal(&self) -> Vec<String> {
        self.journal.lock().map(|j| j.clone()).unwrap_or_default()
    }

    /// Whether the simulated machine is on now.
    pub fn is_on(&self) -> bool {
        self.power.lock().map(|mut p| p.now()).unwrap_or(false)
    }
}

impl Drop for AcmeSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}
