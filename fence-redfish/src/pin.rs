//! `ssl_fingerprint`: the BMC's certificate is accepted when it matches a pin, whatever its
//! issuer, names or dates. Two kinds of pin are taken, each in the form its tool prints:
//!
//! - a **certificate fingerprint**, `sha256:AB:CD:...` or just the hex pairs, with or
//!   without colons, or the whole `sha256 Fingerprint=AB:CD:...` line of `openssl x509
//!   -noout -fingerprint -sha256`. It names one certificate: a BMC that renews its
//!   certificate (iLO and iDRAC do on expiry or a host-name change) needs a new pin.
//! - a **public-key pin**, `sha256//BASE64`, as curl's `--pinnedpubkey` takes it. It names
//!   the key: it survives a renewal that keeps the key, not a new key.
//!
//! Both are exact identities, so both are offered; several pins may be given, separated by
//! `;` (curl's separator) or `,`, and any one matching is enough (the old and the new
//! certificate during a planned replacement). The peer must still prove that it holds the
//! certificate's key (the handshake signature is checked as always).

use crate::cert::{self, CertInfo, Digest256};

/// One pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pin {
    /// SHA-256 of the whole DER certificate.
    Certificate([u8; 32]),
    /// SHA-256 of the DER SubjectPublicKeyInfo.
    PublicKey([u8; 32]),
}

impl Pin {
    /// Reads a list of pins; `Err` says what is wrong with which one.
    pub fn parse_list(text: &str) -> Result<Vec<Pin>, String> {
        let pins: Vec<Pin> = text
            .split([';', ','])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Pin::parse)
            .collect::<Result<_, _>>()?;
        if pins.is_empty() {
            return Err("no pin given".to_owned());
        }
        Ok(pins)
    }

    /// Reads one pin.
    pub fn parse(text: &str) -> Result<Pin, String> {
        let t = text.trim();
        if let Some(b64) = t.strip_prefix("sha256//") {
            let bytes = cert::from_base64(b64.trim())
                .ok_or_else(|| format!("'{t}': not base64 after sha256//"))?;
            let digest: Digest256 = bytes.try_into().map_err(|b: Vec<u8>| {
                format!("'{t}': a SHA-256 digest is 32 bytes, this is {}", b.len())
            })?;
            return Ok(Pin::PublicKey(digest));
        }
        let hex = match t.split_once('=') {
            // `sha256 Fingerprint=AB:CD...` (openssl 3) or `SHA256 Fingerprint=...` (1.1)
            Some((label, value)) if label.to_ascii_lowercase().starts_with("sha256") => value,
            Some(_) => return Err(format!("'{t}': only SHA-256 fingerprints are taken")),
            None => {
                let lower = t.to_ascii_lowercase();
                if lower.starts_with("sha256:") {
                    &t[7..]
                } else if lower.starts_with("sha1") || lower.starts_with("md5") {
                    return Err(format!("'{t}': only SHA-256 fingerprints are taken"));
                } else {
                    t
                }
            }
        };
        let digits: String = hex.chars().filter(|c| *c != ':').collect();
        if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "'{t}': expected sha256:AB:CD:... (64 hex digits, as `openssl x509 -noout \
                 -fingerprint -sha256` prints) or sha256//BASE64 (curl's --pinnedpubkey)"
            ));
        }
        let mut digest = [0u8; 32];
        for (i, d) in digest.iter_mut().enumerate() {
            *d = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16)
                .map_err(|_| format!("'{t}': not hex"))?;
        }
        Ok(Pin::Certificate(digest))
    }

    /// Whether the DER certificate `der` matches.
    pub fn matches(&self, der: &[u8]) -> bool {
        match self {
            Pin::Certificate(d) => cert::sha256(der) == *d,
            Pin::PublicKey(d) => CertInfo::parse(der).is_some_and(|c| cert::sha256(&c.spki) == *d),
        }
    }
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pin::Certificate(d) => write!(f, "sha256:{}", cert::colon_hex(d)),
            Pin::PublicKey(d) => write!(f, "sha256//{}", cert::base64(d)),
        }
    }
}

/// The two pins of a presented certificate, for messages: `(certificate fingerprint,
/// public-key pin)`; the latter `None` when the certificate cannot be read.
pub(crate) fn pins_of(der: &[u8]) -> (Pin, Option<Pin>) {
    (
        Pin::Certificate(cert::sha256(der)),
        CertInfo::parse(der).map(|c| Pin::PublicKey(cert::sha256(&c.spki))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A:08";

    #[test]
    fn every_printed_form_is_read() {
        let want = Pin::Certificate(cert::sha256(b"test"));
        for form in [
            format!("sha256:{HEX}"),
            format!("SHA256:{HEX}"),
            HEX.to_owned(),
            HEX.replace(':', "").to_lowercase(),
            format!("sha256 Fingerprint={HEX}"),
            format!("SHA256 Fingerprint={HEX}"),
        ] {
            assert_eq!(Pin::parse(&form).unwrap(), want, "{form}");
        }
        let key = Pin::parse(&format!("sha256//{}", cert::base64(&cert::sha256(b"k")))).unwrap();
        assert_eq!(key, Pin::PublicKey(cert::sha256(b"k")));
        assert_eq!(
            key.to_string(),
            format!("sha256//{}", cert::base64(&cert::sha256(b"k")))
        );
        assert_eq!(want.to_string(), format!("sha256:{HEX}"));
    }

    #[test]
    fn lists_and_bad_pins() {
        let two =
            Pin::parse_list(&format!("sha256:{HEX}; sha256//{}", cert::base64(&[7; 32]))).unwrap();
        assert_eq!(two.len(), 2);
        for bad in [
            "",
            "sha256:12:34",
            "sha1 Fingerprint=AA:BB",
            "md5:00",
            "sha256//not*base64",
            "sha256//AAAA",
        ] {
            assert!(Pin::parse_list(bad).is_err(), "{bad}");
        }
    }
}
