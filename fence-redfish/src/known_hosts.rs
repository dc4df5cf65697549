//! `ssl_known_hosts_file`: trust on first use, as SSH's `known_hosts`. The first connection
//! to a BMC records the public-key pin of the certificate it presents; later connections are
//! accepted only when the BMC presents the same key. A changed key is refused, with a
//! message saying what was pinned, what is presented, and which line to remove to accept
//! the new one. The key is pinned (not the whole certificate), so a BMC that renews its
//! certificate with the same key stays trusted, as an SSH host that keeps its host key.
//!
//! One line per BMC: `ADDRESS sha256//BASE64`, `ADDRESS` the device's `host:port` as
//! configured; `#` starts a comment. The file is read once per run and appended to on
//! first use, each within [`FILE_BOUND`]; it must be a regular file (a FIFO would block).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fence_core::{Error, Result};

use crate::pin::Pin;

/// Bound on reading or appending to the file (a hung file system costs this, no more).
pub(crate) const FILE_BOUND: Duration = Duration::from_secs(2);

/// The pin of one BMC in a known-hosts file.
#[derive(Clone, Debug)]
pub(crate) struct KnownHosts {
    path: PathBuf,
    address: String,
    /// The line number (from 1) and the pin recorded for `address`, if any.
    entry: Option<(usize, Pin)>,
}

/// What the file says of a presented certificate.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Known {
    /// The BMC presents the recorded key.
    Same,
    /// The file has no line for this BMC yet.
    New,
    /// The BMC presents another key than the one recorded on `line`.
    Changed {
        /// The line of the file.
        line: usize,
        /// The pin recorded there.
        pinned: Pin,
    },
}

impl KnownHosts {
    /// Reads the line of `address` from `path` (a missing file has none).
    pub(crate) fn load(path: &Path, address: &str) -> Result<KnownHosts> {
        let shown = path.display().to_string();
        let owned = path.to_owned();
        let text = bounded(move || read_regular(&owned))
            .ok_or_else(|| {
                Error::invalid_option(
                    "ssl_known_hosts_file",
                    format!("{shown} could not be read within {FILE_BOUND:?}"),
                )
            })?
            .map_err(|why| {
                Error::invalid_option("ssl_known_hosts_file", format!("{shown}: {why}"))
            })?;
        let mut entry = None;
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            let (Some(who), Some(pin)) = (words.next(), words.next()) else {
                continue;
            };
            if who != address {
                continue;
            }
            let pin = Pin::parse(pin).map_err(|why| {
                Error::invalid_option(
                    "ssl_known_hosts_file",
                    format!("{shown} line {}: {why}", i + 1),
                )
            })?;
            entry = Some((i + 1, pin));
            break;
        }
        Ok(KnownHosts {
            path: path.to_owned(),
            address: address.to_owned(),
            entry,
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What the file says of the DER certificate `der`.
    pub(crate) fn check(&self, der: &[u8]) -> Known {
        match &self.entry {
            None => Known::New,
            Some((_, pin)) if pin.matches(der) => Known::Same,
            Some((line, pin)) => Known::Changed {
                line: *line,
                pinned: pin.clone(),
            },
        }
    }

    /// Appends the line of this BMC with `pin`.
    pub(crate) fn record(&self, pin: &Pin) -> std::result::Result<(), String> {
        let line = format!("{} {pin}\n", self.address);
        let path = self.path.clone();
        bounded(move || append_regular(&path, &line))
            .unwrap_or_else(|| Err(format!("not written within {FILE_BOUND:?}")))
    }
}

/// The file's text; empty when it does not exist.
fn read_regular(path: &Path) -> std::result::Result<String, String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(e.to_string()),
        Ok(m) if !m.is_file() => return Err("not a regular file".to_owned()),
        Ok(_) => {}
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

fn append_regular(path: &Path, line: &str) -> std::result::Result<(), String> {
    if let Ok(m) = std::fs::metadata(path) {
        if !m.is_file() {
            return Err("not a regular file".to_owned());
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| e.to_string())?;
    // One write of the whole line: concurrent agents append whole lines.
    file.write_all(line.as_bytes()).map_err(|e| e.to_string())
}

/// Runs `work` in a thread of its own, waiting at most [`FILE_BOUND`]; `None` past it.
fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("known-hosts".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .ok()?;
    rx.recv_timeout(FILE_BOUND).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "fence-redfish-kh-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("known_hosts")
    }

    #[test]
    fn first_use_records_then_the_same_key_passes_and_another_is_refused() {
        let path = temp("tofu");
        let kh = KnownHosts::load(&path, "10.0.0.5:443").unwrap();
        // Not a certificate, so only a certificate pin can match it: use that kind.
        let der = b"certificate A";
        assert_eq!(kh.check(der), Known::New);
        let pin = Pin::Certificate(cert::sha256(der));
        kh.record(&pin).unwrap();
        std::fs::write(
            &path,
            format!(
                "# BMCs\nother:443 sha256//{}\n{}",
                cert::base64(&[1; 32]),
                std::fs::read_to_string(&path).unwrap()
            ),
        )
        .unwrap();
        let kh = KnownHosts::load(&path, "10.0.0.5:443").unwrap();
        assert_eq!(kh.check(der), Known::Same);
        assert_eq!(
            kh.check(b"certificate B"),
            Known::Changed {
                line: 3,
                pinned: pin
            }
        );
    }

    #[test]
    fn a_fifo_or_a_bad_line_is_refused_without_waiting() {
        let path = temp("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&path)
                .status()
                .unwrap()
                .success()
        );
        let started = std::time::Instant::now();
        let e = KnownHosts::load(&path, "a:1").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(started.elapsed() < FILE_BOUND);
        let bad = temp("bad");
        std::fs::write(&bad, "a:1 sha256:12\n").unwrap();
        let e = KnownHosts::load(&bad, "a:1").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(KnownHosts::load(&bad, "b:1").unwrap().entry.is_none());
    }
}
