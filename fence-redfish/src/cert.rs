//! What the TLS checks need of an X.509 certificate (RFC 5280 §4.1), read from its DER
//! bytes without a general ASN.1 library: the validity dates and the SubjectPublicKeyInfo;
//! and the two SHA-256 digests a BMC certificate is pinned by:
//!
//! - the **certificate fingerprint**, SHA-256 of the whole DER certificate, as
//!   `openssl x509 -noout -fingerprint -sha256` prints it (`AB:CD:...`);
//! - the **public-key pin**, SHA-256 of the DER SubjectPublicKeyInfo, in base64, as curl's
//!   `--pinnedpubkey sha256//...` takes it (`openssl x509 -pubkey | openssl pkey -pubin
//!   -outform der | openssl dgst -sha256 -binary | openssl base64`).

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub(crate) type Digest256 = [u8; 32];

/// The parts of a certificate the checks read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertInfo {
    /// `notBefore`, seconds since the Unix epoch.
    pub not_before: i64,
    /// `notAfter`, seconds since the Unix epoch.
    pub not_after: i64,
    /// The DER SubjectPublicKeyInfo, tag and length included.
    pub spki: Vec<u8>,
}

impl CertInfo {
    /// Reads a DER certificate; `None` when it is not one.
    pub(crate) fn parse(der: &[u8]) -> Option<CertInfo> {
        let (cert, _) = tlv(der, SEQUENCE)?;
        let (tbs, _) = tlv(cert.content, SEQUENCE)?;
        let mut rest = tbs.content;
        // version [0] EXPLICIT, optional
        if rest.first() == Some(&0xa0) {
            rest = tlv(rest, 0xa0)?.1;
        }
        rest = tlv(rest, INTEGER)?.1; // serialNumber
        rest = tlv(rest, SEQUENCE)?.1; // signature AlgorithmIdentifier
        rest = tlv(rest, SEQUENCE)?.1; // issuer Name
        let (validity, after_validity) = tlv(rest, SEQUENCE)?;
        let (not_before, after) = time(validity.content)?;
        let (not_after, _) = time(after)?;
        rest = tlv(after_validity, SEQUENCE)?.1; // subject Name
        let (spki, _) = tlv(rest, SEQUENCE)?;
        Some(CertInfo {
            not_before,
            not_after,
            spki: spki.whole.to_vec(),
        })
    }
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> Digest256 {
    Sha256::digest(bytes).into()
}

/// A digest as `openssl x509 -fingerprint` prints it: upper-case hex pairs joined by `:`.
pub(crate) fn colon_hex(d: &Digest256) -> String {
    d.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Standard base64 (RFC 4648 §4); decoding takes the padding or leaves it out, but not
/// non-zero leftover bits.
const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Standard base64 with padding, as `openssl base64` writes it.
pub(crate) fn base64(input: &[u8]) -> String {
    base64::Engine::encode(&B64, input)
}

/// Decodes standard base64 (padding optional); `None` on any other character.
pub(crate) fn from_base64(text: &str) -> Option<Vec<u8>> {
    base64::Engine::decode(&B64, text).ok()
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// One DER element: its content, and the element whole.
struct Element<'a> {
    content: &'a [u8],
    whole: &'a [u8],
}

/// The element at the start of `input`, which must have tag `tag`, and what follows it.
fn tlv(input: &[u8], tag: u8) -> Option<(Element<'_>, &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    Some((
        Element {
            content: &rest[..len],
            whole: &input[..header + len],
        },
        &rest[len..],
    ))
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950-2049 as RFC 5280 §4.1.2.5.1 says) or
/// GeneralizedTime (`YYYYMMDDHHMMSSZ`) at the start of `input`, in Unix seconds.
fn time(input: &[u8]) -> Option<(i64, &[u8])> {
    let (&tag, _) = input.split_first()?;
    let (el, rest) = tlv(input, tag)?;
    // Digits and a final Z only: slicing below is by bytes, so nothing else may pass.
    if !el.content.is_ascii() {
        return None;
    }
    let s = std::str::from_utf8(el.content).ok()?;
    let s = s.strip_suffix('Z')?;
    let digits = |t: &str| -> Option<i64> {
        t.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (year, rest_s) = match tag {
        UTC_TIME if s.len() == 12 => {
            let yy = digits(&s[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &s[2..])
        }
        GENERALIZED_TIME if s.len() == 14 => (digits(&s[..4])?, &s[4..]),
        _ => return None,
    };
    let month = digits(&rest_s[0..2])?;
    let day = digits(&rest_s[2..4])?;
    let hour = digits(&rest_s[4..6])?;
    let minute = digits(&rest_s[6..8])?;
    let second = digits(&rest_s[8..10])?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second, rest))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_both_ways() {
        for (plain, coded) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain), coded);
            assert_eq!(from_base64(coded).unwrap(), plain, "{coded}");
        }
        assert_eq!(from_base64("Zg").unwrap(), b"f", "padding is optional");
        assert_eq!(from_base64("Z!=="), None);
        assert_eq!(from_base64("Zh=="), None, "non-zero padding bits");
    }

    #[test]
    fn dates_are_read_in_both_forms() {
        // 2026-12-03 11:30:00 UTC = 1796297400
        let utc = [&[UTC_TIME, 13][..], b"261203113000Z"].concat();
        assert_eq!(time(&utc).unwrap().0, 1_796_297_400);
        let gen_time = [&[GENERALIZED_TIME, 15][..], b"20261203113000Z"].concat();
        assert_eq!(time(&gen_time).unwrap().0, 1_796_297_400);
        let y1950 = [&[UTC_TIME, 13][..], b"500101000000Z"].concat();
        assert_eq!(time(&y1950).unwrap().0, -631_152_000);
        let bad = [&[UTC_TIME, 13][..], b"261303113000Z"].concat();
        assert_eq!(time(&bad), None);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn a_time_with_non_ascii_bytes_is_refused_not_a_panic() {
        // Regression (review): 12 bytes of valid UTF-8 whose first character is two bytes.
        let utc = "1\u{e9}123456789Z";
        assert_eq!(utc.len(), 13, "12 bytes before the Z, as a UTCTime has");
        let mut t = vec![UTC_TIME, 13];
        t.extend_from_slice(utc.as_bytes());
        assert_eq!(time(&t), None);
        let gen_time = "20\u{e9}1203113000Z";
        assert_eq!(gen_time.len(), 15);
        let mut g = vec![GENERALIZED_TIME, 15];
        g.extend_from_slice(gen_time.as_bytes());
        assert_eq!(time(&g), None);
    }

    #[test]
    fn truncated_or_foreign_bytes_are_no_certificate() {
        assert_eq!(CertInfo::parse(&[]), None);
        assert_eq!(CertInfo::parse(&[0x30, 0x82, 0xff]), None);
        assert_eq!(CertInfo::parse(b"-----BEGIN CERTIFICATE-----"), None);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;

        fn leaf() -> Vec<u8> {
            let pem = std::fs::read(fence_test_support::https::fixture("leaf.pem")).unwrap();
            CertificateDer::pem_slice_iter(&pem)
                .next()
                .unwrap()
                .unwrap()
                .to_vec()
        }

        proptest! {
            #![proptest_config(fence_core::testkit::proptest_support::config(2000))]

            /// What a BMC (or anyone in between) presents is read before any signature is
            /// checked: no bytes may panic the reader.
            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
                let _ = CertInfo::parse(&bytes);
                let _ = from_base64(&String::from_utf8_lossy(&bytes));
            }

            #[test]
            fn any_time_content_never_panics(tag in prop_oneof![Just(UTC_TIME), Just(GENERALIZED_TIME)],
                                             content in proptest::collection::vec(any::<u8>(), 0..20)) {
                let mut t = vec![tag, content.len() as u8];
                t.extend_from_slice(&content);
                let _ = time(&t);
            }

            #[test]
            fn a_changed_real_certificate_never_panics(at in any::<prop::sample::Index>(), xor in 1u8..=255,
                                                       cut in any::<prop::sample::Index>()) {
                let mut der = leaf();
                let i = at.index(der.len());
                der[i] ^= xor;
                let _ = CertInfo::parse(&der);
                let n = cut.index(der.len());
                let _ = CertInfo::parse(&der[..n]);
            }
        }

        #[test]
        fn the_real_certificate_is_read() {
            let info = CertInfo::parse(&leaf()).unwrap();
            assert!(info.not_before < info.not_after);
            assert_eq!(info.spki.first(), Some(&SEQUENCE));
        }
    }
}
