//! The cryptography of IPMI over LAN, for both ends of a session.
//!
//! Everything here is a pure function of its inputs (no sockets, no clocks), so a client and
//! a simulated BMC compute the same values from the same inputs:
//!
//! - RMCP+ (IPMI v2.0) cipher suites 0, 1, 2, 3 and 17 ([`CipherSuite`]);
//! - the RAKP key exchange: the authentication codes of RAKP messages 2 and 3, the Session
//!   Integrity Key (SIK), the integrity check value of RAKP message 4 ([`RakpInputs`]);
//! - the session keys K1 (integrity) and K2 (confidentiality), the per-packet integrity code
//!   and AES-CBC-128 with IPMI's padding ([`SessionKeys`]);
//! - the IPMI v1.5 per-packet authentication codes (MD5 and straight password,
//!   [`v15_auth_code`]).
//!
//! Names follow the IPMI v2.0 specification (section 13.28 onwards): `SIDm`/`SIDc` are the
//! remote console's and the managed system's (BMC's) session IDs, `Rm`/`Rc` their random
//! numbers, `GUIDc` the BMC's GUID, `ROLEm` the requested role byte of RAKP message 1,
//! `Kuid` the user's password and `Kg` the BMC key.
//!
//! Comparisons of authentication codes use [`ct_eq`], which takes the same time whatever the
//! position of the first differing byte.

use aes::Aes128;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

use fence_core::{Error, Result};

/// The length of the random numbers `Rm` and `Rc` of the RAKP exchange.
pub const RANDOM_LEN: usize = 16;
/// The length of a BMC GUID.
pub const GUID_LEN: usize = 16;
/// The longest IPMI v2.0 password (`Kuid`) and BMC key (`Kg`): 20 bytes.
pub const KEY_MAX_LEN: usize = 20;
/// The longest IPMI v1.5 password: 16 bytes.
pub const V15_PASSWORD_MAX_LEN: usize = 16;
/// The AES block size, which is also the length of the IV that starts an encrypted payload.
pub const AES_BLOCK: usize = 16;

/// RAKP authentication algorithm (the key-exchange HMAC), as numbered in Open Session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthAlgorithm {
    /// `RAKP-none` (0): no authentication at all.
    None,
    /// `RAKP-HMAC-SHA1` (1).
    HmacSha1,
    /// `RAKP-HMAC-SHA256` (3).
    HmacSha256,
}

impl AuthAlgorithm {
    /// The number used on the wire.
    pub const fn id(self) -> u8 {
        match self {
            AuthAlgorithm::None => 0,
            AuthAlgorithm::HmacSha1 => 1,
            AuthAlgorithm::HmacSha256 => 3,
        }
    }

    /// The algorithm with this wire number, if supported.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(AuthAlgorithm::None),
            1 => Some(AuthAlgorithm::HmacSha1),
            3 => Some(AuthAlgorithm::HmacSha256),
            _ => None,
        }
    }

    /// HMAC of `data` under `key` with this algorithm's hash, full length (20 bytes for
    /// SHA-1, 32 for SHA-256, empty for none).
    pub fn hmac(self, key: &[u8], data: &[&[u8]]) -> Vec<u8> {
        match self {
            AuthAlgorithm::None => Vec::new(),
            AuthAlgorithm::HmacSha1 => hmac_sha1(key, data).to_vec(),
            AuthAlgorithm::HmacSha256 => hmac_sha256(key, data).to_vec(),
        }
    }

    /// The length of the RAKP 2/3 authentication codes and of the SIK.
    pub const fn code_len(self) -> usize {
        match self {
            AuthAlgorithm::None => 0,
            AuthAlgorithm::HmacSha1 => 20,
            AuthAlgorithm::HmacSha256 => 32,
        }
    }

    /// The length of RAKP message 4's integrity check value (HMAC-SHA1-96: 12 bytes,
    /// HMAC-SHA256-128: 16 bytes).
    pub const fn icv_len(self) -> usize {
        match self {
            AuthAlgorithm::None => 0,
            AuthAlgorithm::HmacSha1 => 12,
            AuthAlgorithm::HmacSha256 => 16,
        }
    }
}

/// Per-packet integrity algorithm of an RMCP+ session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IntegrityAlgorithm {
    /// No integrity check (0).
    None,
    /// `HMAC-SHA1-96` (1): 12-byte AuthCode.
    HmacSha1_96,
    /// `HMAC-SHA256-128` (4): 16-byte AuthCode.
    HmacSha256_128,
}

impl IntegrityAlgorithm {
    /// The number used on the wire.
    pub const fn id(self) -> u8 {
        match self {
            IntegrityAlgorithm::None => 0,
            IntegrityAlgorithm::HmacSha1_96 => 1,
            IntegrityAlgorithm::HmacSha256_128 => 4,
        }
    }

    /// The algorithm with this wire number, if supported.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(IntegrityAlgorithm::None),
            1 => Some(IntegrityAlgorithm::HmacSha1_96),
            4 => Some(IntegrityAlgorithm::HmacSha256_128),
            _ => None,
        }
    }

    /// The length of the AuthCode trailer of each packet.
    pub const fn code_len(self) -> usize {
        match self {
            IntegrityAlgorithm::None => 0,
            IntegrityAlgorithm::HmacSha1_96 => 12,
            IntegrityAlgorithm::HmacSha256_128 => 16,
        }
    }
}

/// Payload encryption algorithm of an RMCP+ session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfidentialityAlgorithm {
    /// No encryption (0).
    None,
    /// `AES-CBC-128` (1).
    AesCbc128,
}

impl ConfidentialityAlgorithm {
    /// The number used on the wire.
    pub const fn id(self) -> u8 {
        match self {
            ConfidentialityAlgorithm::None => 0,
            ConfidentialityAlgorithm::AesCbc128 => 1,
        }
    }

    /// The algorithm with this wire number, if supported.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(ConfidentialityAlgorithm::None),
            1 => Some(ConfidentialityAlgorithm::AesCbc128),
            _ => None,
        }
    }
}

/// An RMCP+ cipher suite: the three algorithms negotiated by Open Session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CipherSuite {
    /// The suite's number (`ipmitool -C`).
    pub id: u8,
    /// The key-exchange authentication algorithm.
    pub auth: AuthAlgorithm,
    /// The per-packet integrity algorithm.
    pub integrity: IntegrityAlgorithm,
    /// The payload encryption algorithm.
    pub confidentiality: ConfidentialityAlgorithm,
}

impl CipherSuite {
    /// Suite 0: no authentication, no integrity, no encryption. Used only when asked for by
    /// name.
    pub const SUITE_0: CipherSuite = CipherSuite::new(
        0,
        AuthAlgorithm::None,
        IntegrityAlgorithm::None,
        ConfidentialityAlgorithm::None,
    );
    /// Suite 1: RAKP-HMAC-SHA1, no integrity, no encryption.
    pub const SUITE_1: CipherSuite = CipherSuite::new(
        1,
        AuthAlgorithm::HmacSha1,
        IntegrityAlgorithm::None,
        ConfidentialityAlgorithm::None,
    );
    /// Suite 2: RAKP-HMAC-SHA1, HMAC-SHA1-96, no encryption.
    pub const SUITE_2: CipherSuite = CipherSuite::new(
        2,
        AuthAlgorithm::HmacSha1,
        IntegrityAlgorithm::HmacSha1_96,
        ConfidentialityAlgorithm::None,
    );
    /// Suite 3: RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128 (the one every BMC has).
    pub const SUITE_3: CipherSuite = CipherSuite::new(
        3,
        AuthAlgorithm::HmacSha1,
        IntegrityAlgorithm::HmacSha1_96,
        ConfidentialityAlgorithm::AesCbc128,
    );
    /// Suite 17: RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128 (the default of modern BMCs).
    pub const SUITE_17: CipherSuite = CipherSuite::new(
        17,
        AuthAlgorithm::HmacSha256,
        IntegrityAlgorithm::HmacSha256_128,
        ConfidentialityAlgorithm::AesCbc128,
    );
    /// Every supported suite.
    pub const SUPPORTED: [CipherSuite; 5] = [
        CipherSuite::SUITE_0,
        CipherSuite::SUITE_1,
        CipherSuite::SUITE_2,
        CipherSuite::SUITE_3,
        CipherSuite::SUITE_17,
    ];

    const fn new(
        id: u8,
        auth: AuthAlgorithm,
        integrity: IntegrityAlgorithm,
        confidentiality: ConfidentialityAlgorithm,
    ) -> Self {
        CipherSuite {
            id,
            auth,
            integrity,
            confidentiality,
        }
    }

    /// The supported suite with this number.
    pub fn from_id(id: u8) -> Option<Self> {
        Self::SUPPORTED.into_iter().find(|s| s.id == id)
    }

    /// The supported suite made of these three algorithm numbers (as an Open Session
    /// response names them).
    pub fn from_algorithms(auth: u8, integrity: u8, confidentiality: u8) -> Option<Self> {
        Self::SUPPORTED.into_iter().find(|s| {
            s.auth.id() == auth
                && s.integrity.id() == integrity
                && s.confidentiality.id() == confidentiality
        })
    }
}

fn hmac_sha1(key: &[u8], data: &[&[u8]]) -> [u8; 20] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for HMAC.
    let mut mac = match Hmac::<Sha1>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_hmac_key(),
    };
    for d in data {
        mac.update(d);
    }
    mac.finalize().into_bytes().into()
}

fn hmac_sha256(key: &[u8], data: &[&[u8]]) -> [u8; 32] {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_hmac_key(),
    };
    for d in data {
        mac.update(d);
    }
    mac.finalize().into_bytes().into()
}

#[cold]
fn unreachable_hmac_key() -> ! {
    // `Hmac::new_from_slice` is documented to accept every key length.
    unreachable!("HMAC accepts keys of every length")
}

/// Compares two byte strings in time that does not depend on where they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(a.ct_eq(b))
}

/// The values both ends know after RAKP message 2, from which every key and code of the
/// exchange is computed.
#[derive(Clone, PartialEq, Eq)]
pub struct RakpInputs {
    /// `SIDm`: the remote console's session ID.
    pub console_session_id: u32,
    /// `SIDc`: the BMC's session ID.
    pub bmc_session_id: u32,
    /// `Rm`: the remote console's random number (RAKP message 1).
    pub console_random: [u8; RANDOM_LEN],
    /// `Rc`: the BMC's random number (RAKP message 2).
    pub bmc_random: [u8; RANDOM_LEN],
    /// `GUIDc`: the BMC's GUID (RAKP message 2).
    pub bmc_guid: [u8; GUID_LEN],
    /// `ROLEm`: the role byte of RAKP message 1 (privilege level plus the name-only lookup
    /// bit 0x10).
    pub role: u8,
    /// `UNAMEm`: the user name (at most 16 bytes).
    pub username: Vec<u8>,
}

impl std::fmt::Debug for RakpInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The randoms are not secret (they travel in clear), but they are noise in logs.
        f.debug_struct("RakpInputs")
            .field("console_session_id", &self.console_session_id)
            .field("bmc_session_id", &self.bmc_session_id)
            .field("role", &self.role)
            .field("username", &String::from_utf8_lossy(&self.username))
            .finish_non_exhaustive()
    }
}

impl RakpInputs {
    fn uname_len(&self) -> [u8; 1] {
        // The user name is at most 16 bytes (checked when encoding RAKP 1).
        [u8::try_from(self.username.len()).unwrap_or(u8::MAX)]
    }

    /// The key-exchange authentication code of RAKP message 2, sent by the BMC:
    /// `HMAC(Kuid, SIDm | SIDc | Rm | Rc | GUIDc | ROLEm | ULENGTHm | UNAMEm)`.
    pub fn rakp2_auth_code(&self, auth: AuthAlgorithm, kuid: &[u8]) -> Vec<u8> {
        auth.hmac(
            kuid,
            &[
                &self.console_session_id.to_le_bytes(),
                &self.bmc_session_id.to_le_bytes(),
                &self.console_random,
                &self.bmc_random,
                &self.bmc_guid,
                &[self.role],
                &self.uname_len(),
                &self.username,
            ],
        )
    }

    /// The key-exchange authentication code of RAKP message 3, sent by the console:
    /// `HMAC(Kuid, Rc | SIDm | ROLEm | ULENGTHm | UNAMEm)`.
    pub fn rakp3_auth_code(&self, auth: AuthAlgorithm, kuid: &[u8]) -> Vec<u8> {
        auth.hmac(
            kuid,
            &[
                &self.bmc_random,
                &self.console_session_id.to_le_bytes(),
                &[self.role],
                &self.uname_len(),
                &self.username,
            ],
        )
    }

    /// The Session Integrity Key: `HMAC(Kg, Rm | Rc | ROLEm | ULENGTHm | UNAMEm)`, where
    /// `Kg` is the BMC key, or `Kuid` when no BMC key is set (`kg` is `None` or all zero).
    pub fn sik(&self, auth: AuthAlgorithm, kuid: &[u8], kg: Option<&[u8]>) -> Vec<u8> {
        let key = match kg {
            Some(k) if k.iter().any(|b| *b != 0) => k,
            _ => kuid,
        };
        auth.hmac(
            key,
            &[
                &self.console_random,
                &self.bmc_random,
                &[self.role],
                &self.uname_len(),
                &self.username,
            ],
        )
    }

    /// The integrity check value of RAKP message 4, sent by the BMC:
    /// `HMAC(SIK, Rm | SIDc | GUIDc)`, truncated to [`AuthAlgorithm::icv_len`].
    pub fn rakp4_icv(&self, auth: AuthAlgorithm, sik: &[u8]) -> Vec<u8> {
        let mut code = auth.hmac(
            sik,
            &[
                &self.console_random,
                &self.bmc_session_id.to_le_bytes(),
                &self.bmc_guid,
            ],
        );
        code.truncate(auth.icv_len());
        code
    }
}

/// The keys of an established RMCP+ session, and the per-packet operations that use them.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    suite: CipherSuite,
    k1: Vec<u8>,
    k2: Vec<u8>,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("suite", &self.suite.id)
            .field("keys", &"[redacted]")
            .finish()
    }
}

impl SessionKeys {
    /// Derives `K1 = HMAC(SIK, 0x01 x 20)` and `K2 = HMAC(SIK, 0x02 x 20)`.
    pub fn derive(suite: CipherSuite, sik: &[u8]) -> SessionKeys {
        SessionKeys {
            suite,
            k1: suite.auth.hmac(sik, &[&[0x01; 20]]),
            k2: suite.auth.hmac(sik, &[&[0x02; 20]]),
        }
    }

    /// The suite the keys belong to.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// K1, the integrity key.
    pub fn k1(&self) -> &[u8] {
        &self.k1
    }

    /// K2, whose first 16 bytes are the AES-128 key.
    pub fn k2(&self) -> &[u8] {
        &self.k2
    }

    /// The AuthCode trailer of a packet: the suite's integrity HMAC under K1 of `data`
    /// (the session header through the Next Header byte), truncated.
    pub fn integrity_code(&self, data: &[u8]) -> Vec<u8> {
        let mut code = match self.suite.integrity {
            IntegrityAlgorithm::None => Vec::new(),
            IntegrityAlgorithm::HmacSha1_96 => hmac_sha1(&self.k1, &[data]).to_vec(),
            IntegrityAlgorithm::HmacSha256_128 => hmac_sha256(&self.k1, &[data]).to_vec(),
        };
        code.truncate(self.suite.integrity.code_len());
        code
    }

    fn aes_key(&self) -> Result<&[u8]> {
        self.k2
            .get(..16)
            .ok_or_else(|| Error::misbehaved("AES-CBC-128 needs a 16-byte key (K2 too short)"))
    }

    /// Encrypts a payload as the suite says: for AES-CBC-128, `IV | AES-CBC(K2[..16], IV,
    /// data | 1 2 3 .. n | n)`, padded to whole blocks; `iv` must be random per packet.
    /// Without confidentiality the payload is returned as it is.
    pub fn encrypt(&self, data: &[u8], iv: [u8; AES_BLOCK]) -> Result<Vec<u8>> {
        match self.suite.confidentiality {
            ConfidentialityAlgorithm::None => Ok(data.to_vec()),
            ConfidentialityAlgorithm::AesCbc128 => aes_cbc_encrypt(self.aes_key()?, iv, data),
        }
    }

    /// Decrypts a payload encrypted by [`SessionKeys::encrypt`], checking its padding.
    pub fn decrypt(&self, payload: &[u8]) -> Result<Vec<u8>> {
        match self.suite.confidentiality {
            ConfidentialityAlgorithm::None => Ok(payload.to_vec()),
            ConfidentialityAlgorithm::AesCbc128 => aes_cbc_decrypt(self.aes_key()?, payload),
        }
    }
}

/// AES-CBC-128 with IPMI's confidentiality trailer (pad bytes 1, 2, 3, ..., then the pad
/// length), prefixed by the IV.
pub fn aes_cbc_encrypt(key: &[u8], iv: [u8; AES_BLOCK], data: &[u8]) -> Result<Vec<u8>> {
    let pad_len = (AES_BLOCK - (data.len() + 1) % AES_BLOCK) % AES_BLOCK;
    let mut buf = Vec::with_capacity(data.len() + pad_len + 1);
    buf.extend_from_slice(data);
    // pad_len < 16, so the casts are exact.
    buf.extend((1..=pad_len).map(|i| i as u8));
    buf.push(pad_len as u8);
    let cipher = cbc::Encryptor::<Aes128>::new_from_slices(key, &iv)
        .map_err(|_| Error::misbehaved("AES-CBC-128: bad key length"))?;
    let n = buf.len();
    cipher
        .encrypt_padded_mut::<NoPadding>(&mut buf, n)
        .map_err(|_| Error::misbehaved("AES-CBC-128: data not block aligned"))?;
    let mut out = Vec::with_capacity(AES_BLOCK + n);
    out.extend_from_slice(&iv);
    out.extend_from_slice(&buf);
    Ok(out)
}

/// Reverses [`aes_cbc_encrypt`]: splits off the IV, decrypts, checks and strips the trailer.
pub fn aes_cbc_decrypt(key: &[u8], payload: &[u8]) -> Result<Vec<u8>> {
    if payload.len() < 2 * AES_BLOCK || payload.len() % AES_BLOCK != 0 {
        return Err(Error::misbehaved(format!(
            "encrypted payload of {} bytes is not an IV plus whole AES blocks",
            payload.len()
        )));
    }
    let (iv, body) = payload.split_at(AES_BLOCK);
    let cipher = cbc::Decryptor::<Aes128>::new_from_slices(key, iv)
        .map_err(|_| Error::misbehaved("AES-CBC-128: bad key length"))?;
    let mut buf = body.to_vec();
    let plain = cipher
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|_| Error::misbehaved("AES-CBC-128: data not block aligned"))?;
    let (&pad_len, rest) = plain
        .split_last()
        .ok_or_else(|| Error::misbehaved("empty encrypted payload"))?;
    let pad_len = usize::from(pad_len);
    if pad_len >= AES_BLOCK || pad_len > rest.len() {
        return Err(Error::misbehaved(format!(
            "bad confidentiality pad length {pad_len}"
        )));
    }
    let (data, pad) = rest.split_at(rest.len() - pad_len);
    if pad
        .iter()
        .enumerate()
        .any(|(i, b)| usize::from(*b) != i + 1)
    {
        return Err(Error::misbehaved("bad confidentiality pad bytes"));
    }
    Ok(data.to_vec())
}

/// IPMI v1.5 authentication type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum V15AuthType {
    /// No authentication code (0): only when asked for by name.
    None,
    /// MD5 (2).
    Md5,
    /// The password itself as the authentication code ("straight password", 4).
    Password,
}

impl V15AuthType {
    /// The number used in the session header.
    pub const fn id(self) -> u8 {
        match self {
            V15AuthType::None => 0,
            V15AuthType::Md5 => 2,
            V15AuthType::Password => 4,
        }
    }

    /// The type with this number, if supported.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(V15AuthType::None),
            2 => Some(V15AuthType::Md5),
            4 => Some(V15AuthType::Password),
            _ => None,
        }
    }

    /// The bit of this type in Get Channel Authentication Capabilities' support mask.
    pub const fn support_bit(self) -> u8 {
        1 << self.id()
    }
}

/// The password zero-padded to 16 bytes, as IPMI v1.5 uses it.
pub fn v15_password(password: &[u8]) -> Result<[u8; 16]> {
    if password.len() > V15_PASSWORD_MAX_LEN {
        return Err(Error::invalid_input(
            "IPMI v1.5 (lan) passwords are at most 16 bytes; use lanplus",
        ));
    }
    let mut p = [0u8; 16];
    p[..password.len()].copy_from_slice(password);
    Ok(p)
}

/// The 16-byte AuthCode of an IPMI v1.5 packet; `None` for authentication type none.
///
/// MD5: `MD5(password | session ID | message | session sequence | password)`, with the
/// password zero-padded to 16 bytes and the integers little-endian. Password: the padded
/// password itself.
pub fn v15_auth_code(
    auth: V15AuthType,
    password: &[u8; 16],
    session_id: u32,
    session_seq: u32,
    message: &[u8],
) -> Option<[u8; 16]> {
    match auth {
        V15AuthType::None => None,
        V15AuthType::Password => Some(*password),
        V15AuthType::Md5 => {
            let mut h = Md5::new();
            h.update(password);
            h.update(session_id.to_le_bytes());
            h.update(message);
            h.update(session_seq.to_le_bytes());
            h.update(password);
            Some(h.finalize().into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn to_hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Fixed inputs; the expected values below were computed independently with Python's
    /// `hmac`/`hashlib` (see `fence-ipmi/README.md`, "Test vectors").
    fn inputs() -> RakpInputs {
        RakpInputs {
            console_session_id: 0xa0a1_a2a3,
            bmc_session_id: 0x0203_0405,
            console_random: core::array::from_fn(|i| i as u8),
            bmc_random: core::array::from_fn(|i| 0x10 + i as u8),
            bmc_guid: core::array::from_fn(|i| 0x20 + i as u8),
            role: 0x14,
            username: b"admin".to_vec(),
        }
    }

    #[test]
    fn suites_map_to_algorithm_numbers() {
        assert_eq!(
            CipherSuite::from_algorithms(1, 1, 1),
            Some(CipherSuite::SUITE_3)
        );
        assert_eq!(
            CipherSuite::from_algorithms(3, 4, 1),
            Some(CipherSuite::SUITE_17)
        );
        assert_eq!(
            CipherSuite::from_algorithms(0, 0, 0),
            Some(CipherSuite::SUITE_0)
        );
        assert_eq!(CipherSuite::from_algorithms(2, 2, 0), None, "MD5 suites");
        assert_eq!(
            CipherSuite::from_id(17).map(|s| s.auth),
            Some(AuthAlgorithm::HmacSha256)
        );
        assert_eq!(CipherSuite::from_id(7), None);
    }

    #[test]
    fn sha1_rakp_vectors() {
        let p = inputs();
        let a = AuthAlgorithm::HmacSha1;
        assert_eq!(to_hex(&p.rakp2_auth_code(a, b"password")), RAKP2_SHA1,);
        assert_eq!(to_hex(&p.rakp3_auth_code(a, b"password")), RAKP3_SHA1);
        let sik = p.sik(a, b"password", None);
        assert_eq!(to_hex(&sik), SIK_SHA1);
        assert_eq!(to_hex(&p.rakp4_icv(a, &sik)), RAKP4_SHA1);
        let keys = SessionKeys::derive(CipherSuite::SUITE_3, &sik);
        assert_eq!(to_hex(keys.k1()), K1_SHA1);
        assert_eq!(to_hex(keys.k2()), K2_SHA1);
        assert_eq!(to_hex(&keys.integrity_code(b"integrity")), INTEG_SHA1_96);
        // An all-zero Kg means "no Kg".
        assert_eq!(p.sik(a, b"password", Some(&[0; 20])), sik);
        let with_kg = p.sik(
            a,
            b"password",
            Some(&hex("0102030405060708090a0b0c0d0e0f1011121314")),
        );
        assert_eq!(to_hex(&with_kg), SIK_SHA1_KG);
    }

    #[test]
    fn sha256_rakp_vectors() {
        let p = inputs();
        let a = AuthAlgorithm::HmacSha256;
        assert_eq!(to_hex(&p.rakp2_auth_code(a, b"password")), RAKP2_SHA256);
        assert_eq!(to_hex(&p.rakp3_auth_code(a, b"password")), RAKP3_SHA256);
        let sik = p.sik(a, b"password", None);
        assert_eq!(to_hex(&sik), SIK_SHA256);
        assert_eq!(to_hex(&p.rakp4_icv(a, &sik)), RAKP4_SHA256);
        let keys = SessionKeys::derive(CipherSuite::SUITE_17, &sik);
        assert_eq!(to_hex(keys.k1()), K1_SHA256);
        assert_eq!(to_hex(keys.k2()), K2_SHA256);
        assert_eq!(to_hex(&keys.integrity_code(b"integrity")), INTEG_SHA256_128);
    }

    #[test]
    fn aes_vector_and_round_trip() {
        let key = hex("000102030405060708090a0b0c0d0e0f");
        let iv: [u8; 16] = core::array::from_fn(|i| 0xf0 + i as u8);
        let enc = aes_cbc_encrypt(&key, iv, b"hello ipmi").unwrap();
        assert_eq!(to_hex(&enc), AES_HELLO);
        assert_eq!(aes_cbc_decrypt(&key, &enc).unwrap(), b"hello ipmi");
        for len in 0..40 {
            let data: Vec<u8> = (0..len as u8).collect();
            let enc = aes_cbc_encrypt(&key, iv, &data).unwrap();
            assert_eq!(enc.len() % 16, 0);
            assert_eq!(aes_cbc_decrypt(&key, &enc).unwrap(), data);
        }
    }

    #[test]
    fn aes_rejects_malformed() {
        let key = [7u8; 16];
        assert!(aes_cbc_decrypt(&key, &[]).is_err());
        assert!(aes_cbc_decrypt(&key, &[0; 16]).is_err(), "IV only");
        assert!(aes_cbc_decrypt(&key, &[0; 33]).is_err(), "not aligned");
        // Random data almost never has a valid trailer; none of these may panic.
        for seed in 0..64u8 {
            let junk: Vec<u8> = (0..48)
                .map(|i: u8| i.wrapping_mul(seed).wrapping_add(seed))
                .collect();
            let _ = aes_cbc_decrypt(&key, &junk);
        }
    }

    #[test]
    fn v15_md5_vector() {
        let pw = v15_password(b"password").unwrap();
        let code =
            v15_auth_code(V15AuthType::Md5, &pw, 0x1122_3344, 7, &[0x20, 0x18, 0xc8]).unwrap();
        assert_eq!(to_hex(&code), V15_MD5);
        assert_eq!(
            v15_auth_code(V15AuthType::Password, &pw, 1, 2, b"x").unwrap(),
            pw
        );
        assert_eq!(v15_auth_code(V15AuthType::None, &pw, 1, 2, b"x"), None);
        assert!(v15_password(&[b'a'; 17]).is_err());
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    // Expected values, computed independently by `fence-ipmi/tools/vectors.py` (Python's
    // hmac and hashlib, and the `cryptography` package for AES).
    const RAKP2_SHA1: &str = "b0ae3640cb984c26b62061cf6175de2fad3af2b3";
    const RAKP3_SHA1: &str = "7fc6db6b1f57b356a4a457a8df87c8d2d6aecdd9";
    const SIK_SHA1: &str = "122c77c4b11ccd93251cbae6c34a9cb6310da154";
    const SIK_SHA1_KG: &str = "0d91535531735975a266907349ea6db0c682bd9e";
    const RAKP4_SHA1: &str = "b1258da294ea625758014d22";
    const K1_SHA1: &str = "e4472be78f9a81fa68297aab696a7be8c97fc9f8";
    const K2_SHA1: &str = "2b6552012a2517cb3b5713901d757a6efc7d8301";
    const INTEG_SHA1_96: &str = "d58a5f0a0e32ac7714ba416c";
    const RAKP2_SHA256: &str = "4d05dc9edc8dfaa7746df655a87c70ec62b018c1cbc4ee4f88966bf96f3d7529";
    const RAKP3_SHA256: &str = "90267bdbb30b252a36ad5b8c20ad30167c5fda508a1097ee0d53dd1745bfd58c";
    const SIK_SHA256: &str = "e5935f7199865ad961063477b0662684e2ce9b1da8f2b8d41c5ce127d37e9bcf";
    const RAKP4_SHA256: &str = "1a4cfab96a1eece37e67e785b9253475";
    const K1_SHA256: &str = "dc4fe73d075306f6897115dd63257385e845c10404fa1d73991790c6a101bec2";
    const K2_SHA256: &str = "2a4f969ea6dfa83066f36674fdc2fea289fa1a21da90303e9b5269b54ec5adb5";
    const INTEG_SHA256_128: &str = "3794f9498ebcfef9f9c16f535f210844";
    const AES_HELLO: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff2918b771feb1f9d2f8c50b7564bfafae";
    const V15_MD5: &str = "65863f45acdd00d82e2df205bdec73da";
}
