//! `ssl_known_hosts_file`: trust on first use, as SSH's `known_hosts`. The first connection
//! to a BMC records the public-key pin of the certificate it presents; later connections are
//! accepted only when the BMC presents the same key. A changed key is refused, with a
//! message saying what was pinned, what is presented, and which line to remove to accept
//! the new one. The key is pinned (not the whole certificate), so a BMC that renews its
//! certificate with the same key stays trusted, as an SSH host that keeps its host key.
//!
//! One line per BMC: `ADDRESS sha256//BASE64`, `ADDRESS` the device's `host:port` as
//! configured; `#` starts a comment. The file is read once per run and appended to on
//! first use, each within [`files::FILE_BOUND`]; it must be a regular file.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fence_core::{Error, Result};

use crate::files;
use crate::pin::Pin;

/// The pin of one BMC in a known-hosts file.
#[derive(Debug)]
pub(crate) struct KnownHosts {
    path: PathBuf,
    address: String,
    /// The line number (from 1) and the pin recorded for `address`, if any; set when the
    /// first use is recorded, so that the rest of the run holds the BMC to it too.
    entry: Mutex<Option<(usize, Pin)>>,
    /// The lines the file had when read (the line a recorded pin gets).
    lines: usize,
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
        let bytes = files::read(path)
            .map_err(|why| {
                Error::invalid_option("ssl_known_hosts_file", format!("{shown}: {why}"))
            })?
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let mut entry = None;
        let lines = text.lines().count();
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
            entry: Mutex::new(entry),
            lines,
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What the file says of the DER certificate `der`.
    pub(crate) fn check(&self, der: &[u8]) -> Known {
        let entry = self.entry.lock().map(|e| e.clone()).unwrap_or(None);
        known(entry.as_ref(), der)
    }

    /// After the peer proved it holds the key of `der`: the same check as [`Self::check`],
    /// and for a BMC the file does not know yet, its key recorded (appended to the file)
    /// and held to from now on. Done under one lock, so that two handshakes at once cannot
    /// record two keys.
    pub(crate) fn check_or_record(&self, der: &[u8]) -> std::result::Result<Known, String> {
        let mut entry = self
            .entry
            .lock()
            .map_err(|_| "the known-hosts state is poisoned".to_owned())?;
        let verdict = known(entry.as_ref(), der);
        if verdict != Known::New {
            return Ok(verdict);
        }
        let Some(key) = crate::pin::pins_of(der).1 else {
            return Err("the certificate cannot be read".to_owned());
        };
        files::append(&self.path, &format!("{} {key}\n", self.address))?;
        *entry = Some((self.lines + 1, key));
        Ok(Known::New)
    }
}

/// What a recorded entry (line, pin) says of the DER certificate `der`.
fn known(entry: Option<&(usize, Pin)>, der: &[u8]) -> Known {
    match entry {
        None => Known::New,
        Some((_, pin)) if pin.matches(der) => Known::Same,
        Some((line, pin)) => Known::Changed {
            line: *line,
            pinned: pin.clone(),
        },
    }
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

    fn der(name: &str) -> Vec<u8> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let pem = std::fs::read(fence_test_support::https::fixture(name)).unwrap();
        CertificateDer::pem_slice_iter(&pem)
            .next()
            .unwrap()
            .unwrap()
            .to_vec()
    }

    #[test]
    fn first_use_records_then_the_same_key_passes_and_another_is_refused() {
        let path = temp("tofu");
        let (a, b) = (der("leaf.pem"), der("wrongname.pem"));
        let kh = KnownHosts::load(&path, "10.0.0.5:443").unwrap();
        assert_eq!(kh.check(&a), Known::New);
        assert_eq!(kh.check_or_record(&a).unwrap(), Known::New);
        let pin = crate::pin::pins_of(&a).1.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("10.0.0.5:443 {pin}\n")
        );
        // Held to it for the rest of the run, before the file is read again.
        assert_eq!(kh.check(&a), Known::Same);
        assert_eq!(kh.check_or_record(&a).unwrap(), Known::Same);
        assert!(matches!(
            kh.check_or_record(&b).unwrap(),
            Known::Changed { line: 1, .. }
        ));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().lines().count(),
            1,
            "the other key is not recorded"
        );
        assert_eq!(
            kh.check_or_record(b"not a certificate"),
            Ok(Known::Changed {
                line: 1,
                pinned: pin.clone()
            })
        );
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
        assert_eq!(kh.check(&a), Known::Same);
        assert_eq!(
            kh.check(&b),
            Known::Changed {
                line: 3,
                pinned: pin
            }
        );
        let fresh = KnownHosts::load(&temp("tofu2"), "10.0.0.5:443").unwrap();
        assert_eq!(
            fresh.check_or_record(b"not a certificate"),
            Err("the certificate cannot be read".into())
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
        assert!(started.elapsed() < files::FILE_BOUND);
        let bad = temp("bad");
        std::fs::write(&bad, "a:1 sha256:12\n").unwrap();
        let e = KnownHosts::load(&bad, "a:1").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(
            KnownHosts::load(&bad, "b:1")
                .unwrap()
                .entry
                .lock()
                .unwrap()
                .is_none()
        );
    }
}
