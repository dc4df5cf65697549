//! [`AcmeDevice`]: the [`FenceDevice`] of one board. One TCP connection per run, logged in
//! on first use; every connect, request and answer bounded by the configured timeout.

use async_trait::async_trait;
use fence_core::{Capabilities, Error, FenceDevice, PowerState, Result};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::AcmeConfig;

/// One ACME board.
#[derive(Debug)]
pub struct AcmeDevice {
    config: AcmeConfig,
    connection: Mutex<Option<BufReader<TcpStream>>>,
}

impl AcmeDevice {
    /// A device for `config`; connects on first use.
    pub fn new(config: AcmeConfig) -> AcmeDevice {
        AcmeDevice {
            config,
            connection: Mutex::new(None),
        }
    }

    fn address(&self) -> String {
        format!("{}:{}", self.config.host, self.config.port)
    }

    /// Sends one line and reads the answer, logging in first when needed.
    async fn request(&self, line: &str) -> Result<String> {
        let mut slot = self.connection.lock().await;
        if slot.is_none() {
            let mut conn = self.connect().await?;
            let login = format!(
                "LOGIN {} {}",
                self.config.username,
                self.config.password.expose()
            );
            match self.exchange(&mut conn, &login, "LOGIN").await?.as_str() {
                "OK" => {}
                "DENIED" => {
                    return Err(Error::login_refused(format!(
                        "{}: login refused for user {}",
                        self.address(),
                        self.config.username
                    )));
                }
                other => return Err(self.unexpected("LOGIN", other)),
            }
            *slot = Some(conn);
        }
        let Some(conn) = slot.as_mut() else {
            return Err(Error::misbehaved("no connection"));
        };
        let word = line.split(' ').next().unwrap_or(line);
        let answer = self.exchange(conn, line, word).await;
        if answer.is_err() {
            *slot = None;
        }
        answer
    }

    async fn connect(&self) -> Result<BufReader<TcpStream>> {
        let addr = (self.config.host.as_str(), self.config.port);
        match tokio::time::timeout(self.config.timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => Ok(BufReader::new(stream)),
            Ok(Err(e)) => Err(Error::unreachable_with(self.address(), e)),
            Err(_) => Err(Error::unreachable(format!(
                "{}: no connection within {:?}",
                self.address(),
                self.config.timeout
            ))),
        }
    }

    /// Writes `line` and reads one answer line, within the timeout. `what` names the
    /// request in messages (the LOGIN line holds the password and is never shown).
    async fn exchange(
        &self,
        conn: &mut BufReader<TcpStream>,
        line: &str,
        what: &str,
    ) -> Result<String> {
        let work = async {
            conn.get_mut()
                .write_all(format!("{line}\n").as_bytes())
                .await?;
            let mut answer = String::new();
            conn.read_line(&mut answer).await?;
            Ok::<_, std::io::Error>(answer)
        };
        match tokio::time::timeout(self.config.timeout, work).await {
            Ok(Ok(answer)) if answer.ends_with('\n') => Ok(answer.trim().to_owned()),
            Ok(Ok(_)) => Err(Error::unreachable(format!(
                "{}: the connection closed during {what}",
                self.address()
            ))),
            Ok(Err(e)) => Err(Error::unreachable_with(
                format!("{}: {what}", self.address()),
                e,
            )),
            Err(_) => Err(Error::unreachable(format!(
                "{}: no answer to {what} within {:?}",
                self.address(),
                self.config.timeout
            ))),
        }
    }

    /// An answer that is not the protocol's. `ERROR ...` is the board refusing the request
    /// itself: the same request is refused again, so it is not retried; anything else may
    /// be a slip of a busy board.
    fn unexpected(&self, what: &str, answer: &str) -> Error {
        let shown: String = answer.chars().take(80).collect();
        let detail = format!(
            "{}: unexpected answer to {what}: {}",
            self.address(),
            fence_core::secret::scrub_outside(&shown, [self.config.password.expose()])
        );
        if answer.starts_with("ERROR") {
            Error::rejected(detail)
        } else {
            Error::misbehaved(detail)
        }
    }
}

#[async_trait]
impl FenceDevice for AcmeDevice {
    fn backend(&self) -> &'static str {
        "acme"
    }

    fn address(&self) -> String {
        AcmeDevice::address(self)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::single()
    }

    async fn power_state(&self, _plug: &str) -> Result<PowerState> {
        match self.request("STATUS").await?.as_str() {
            "ON" => Ok(PowerState::On),
            "OFF" => Ok(PowerState::Off),
            other => Err(self.unexpected("STATUS", other)),
        }
    }

    async fn set_power(&self, _plug: &str, state: PowerState) -> Result<()> {
        let line = match state {
            PowerState::Off => "POWER OFF",
            _ => "POWER ON",
        };
        match self.request(line).await?.as_str() {
            "OK" => Ok(()),
            other => Err(self.unexpected("POWER", other)),
        }
    }

    async fn close(&self) -> Result<()> {
        if let Some(mut conn) = self.connection.lock().await.take() {
            let _ = tokio::time::timeout(self.config.timeout, conn.get_mut().shutdown()).await;
        }
        Ok(())
    }
}
