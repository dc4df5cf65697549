//! The typed configuration of an IPMI device, built from fence_ipmilan's options.

use std::fmt;
use std::time::Duration;

use fence_core::params::{Options, parse_bool, parse_seconds};
use fence_core::{Error, InputProblem, Result, Secret};

use crate::{
    AUTH, CIPHER, HEXADECIMAL_KG, IP, IPMITOOL_TIMEOUT, IPPORT, LANPLUS, PLUG, PRIVLVL, TARGET,
    USERNAME,
};
use fence_core::params::common;
use fence_ipmi_proto::crypto::{CipherSuite, KEY_MAX_LEN, V15_PASSWORD_MAX_LEN, V15AuthType};
use fence_ipmi_proto::message::{Privilege, USERNAME_MAX_LEN};

/// The default UDP port of IPMI over LAN.
pub const DEFAULT_PORT: u16 = 623;
/// The default longest wait between two transmissions of a request (`ipmitool_timeout`,
/// as ipmitool's `-N`). Before the BMC has answered, [`UNANSWERED_MAX_WAIT`] (0.6 s) is
/// the shorter cap, so this 2 s only matters once the BMC has answered slowly
/// ([`RetryPolicy::schedule_after_answer`]).
pub const DEFAULT_RETRANSMIT: Duration = Duration::from_secs(2);
/// Before the BMC has answered, the first retransmission comes after at most this long;
/// later waits double up to [`UNANSWERED_MAX_WAIT`] (see [`RetryPolicy::schedule`]).
pub const FIRST_RETRANSMIT: Duration = Duration::from_millis(300);
/// Before the BMC has answered, the longest wait between two transmissions (or
/// `ipmitool_timeout`, if that is shorter): 9 transmissions within the default 5 s bound.
pub const UNANSWERED_MAX_WAIT: Duration = Duration::from_millis(600);
/// The shortest retransmission timeout once the BMC has answered (see
/// [`RetryPolicy::schedule_after_answer`]): room for a BMC's slower commands on top of the
/// round trip.
pub const MIN_RTO: Duration = Duration::from_millis(200);
/// The default bound on one request, retransmissions included (`login_timeout`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The bound used when `login_timeout` is 0 (fence-agents' "no timeout",
/// `disable_timeout`): every network call stays bounded.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Which cipher suite(s) to propose in RMCP+ Open Session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherChoice {
    /// Not given: propose suite 17, and suite 3 if the BMC refuses 17 (see the README:
    /// one round trip in the common cases, two for a BMC without SHA-256).
    Auto,
    /// Exactly this suite (`cipher=N`); a BMC that answers another one is refused.
    Fixed(CipherSuite),
}

/// IPMI over LAN protocol version and its security settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    /// IPMI v2.0 RMCP+ (`lanplus`, ipmitool `-I lanplus`).
    LanPlus {
        /// The cipher suite(s) to propose.
        cipher: CipherChoice,
    },
    /// IPMI v1.5 (`ipmitool -I lan`).
    Lan {
        /// The authentication type; `None` asks the BMC and takes MD5, or fails when MD5 is
        /// not offered. [`V15AuthType::Password`] (the password in clear) and
        /// [`V15AuthType::None`] are used only when asked for by name (`auth=password`,
        /// `auth=none`).
        auth: Option<V15AuthType>,
    },
}

/// How requests are retried and bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait before the first retransmission.
    pub first: Duration,
    /// The longest wait between two transmissions (`ipmitool_timeout`). Before the BMC
    /// has answered, the wait doubles from `first` up to this or [`UNANSWERED_MAX_WAIT`],
    /// whichever is shorter; afterwards it is 4 round trips, at most this.
    pub interval: Duration,
    /// The bound on one request, retransmissions included (`login_timeout`): after it the
    /// BMC counts as unreachable. At most [`MAX_REQUEST_TIMEOUT`] is used (see
    /// [`RetryPolicy::bound`]).
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first: FIRST_RETRANSMIT,
            interval: DEFAULT_RETRANSMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl RetryPolicy {
    /// The bound actually applied to one request: `request_timeout`, at most
    /// [`MAX_REQUEST_TIMEOUT`], so that no value set by hand (`Duration::MAX`) can make a
    /// request wait without a bound, overflow a deadline or grow an endless schedule.
    pub fn bound(&self) -> Duration {
        self.request_timeout.min(MAX_REQUEST_TIMEOUT)
    }

    /// The send times of one request to a BMC that has not answered yet in this run,
    /// counted from its first transmission, until the bound: the first wait is `first`,
    /// later waits double up to `interval` or [`UNANSWERED_MAX_WAIT`], whichever is
    /// shorter. For the defaults (bound 5 s): 0, 0.3, 0.9, 1.5, 2.1, ... 4.5 s, 9
    /// transmissions.
    ///
    /// Why these numbers: a lost datagram is only noticed by the absence of an answer, and
    /// a BMC answers Open Session and RAKP within milliseconds (up to about 100 ms on a
    /// busy one), so 0.3 s of silence already means a loss. With 30 % of the datagrams
    /// lost each way, one transmission gets its answer back with probability 0.49, and an
    /// exchange fails when all of its transmissions fail: 0.51^9 = 0.2 % with 9
    /// transmissions, where doubling up to 2 s (0, 0.5, 1.5, 3.5 s) gave 0.51^4 = 6.8 %.
    /// The cost: a repeat that reaches a BMC whose answer is merely slow (over 0.3 s) may
    /// open another half-open session there, which such a BMC holds until its set-up
    /// timeout unless it recognises the repeat by the console session ID (the same in
    /// every copy); the 0.6 s cap, rather than repeating every 0.3 s, keeps that to one
    /// extra session per 0.6 s of slowness.
    pub fn schedule(&self) -> Vec<Duration> {
        let floor = Duration::from_millis(10);
        let cap = self.interval.min(UNANSWERED_MAX_WAIT).max(floor);
        let mut times = vec![Duration::ZERO];
        let mut at = Duration::ZERO;
        let mut wait = self.first.min(cap).max(floor);
        loop {
            at += wait;
            if at >= self.bound() {
                return times;
            }
            times.push(at);
            wait = (wait * 2).min(cap);
        }
    }

    /// The send times of one request to a BMC that has already answered in this run, with
    /// `rtt` the longest round trip seen (only exchanges answered on their first
    /// transmission count): a fixed retransmission timeout of `4 x rtt`, at least
    /// [`MIN_RTO`] and at most `interval`, until the bound. A BMC known to answer quickly
    /// that stays silent has lost the datagram, so waiting longer would only lose time:
    /// e.g. 0, 0.2, 0.4, ... 4.8 s for a loopback BMC and the default bound.
    pub fn schedule_after_answer(&self, rtt: Duration) -> Vec<Duration> {
        let rto = (rtt * 4).max(MIN_RTO).min(self.interval.max(MIN_RTO));
        let mut times = vec![Duration::ZERO];
        let mut at = rto;
        while at < self.bound() {
            times.push(at);
            at += rto;
        }
        times
    }
}

/// The configuration of one BMC.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IpmiConfig {
    /// Host name or address of the BMC.
    pub host: String,
    /// UDP port (623).
    pub port: u16,
    /// User name; empty for the anonymous (null) user.
    pub username: String,
    /// Password (`Kuid`).
    pub password: Secret,
    /// BMC key `Kg` as hexadecimal (`hexadecimal_kg`); RMCP+ only.
    pub kg: Option<Secret>,
    /// Protocol version and security settings.
    pub interface: Interface,
    /// The privilege level the session works at (`privlvl`, administrator).
    pub privilege: Privilege,
    /// Retransmission and bounds.
    pub retry: RetryPolicy,
}

impl fmt::Debug for IpmiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpmiConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("kg", &self.kg.as_ref().map(|_| "[redacted]"))
            .field("interface", &self.interface)
            .field("privilege", &self.privilege)
            .field("retry", &self.retry)
            .finish()
    }
}

impl IpmiConfig {
    /// A lanplus configuration with the defaults: port 623, cipher suite 17 then 3,
    /// administrator privilege, no Kg, [`RetryPolicy::default`]: a request unanswered so
    /// far is sent at 0, 0.3, 0.9, 1.5, ... 4.5 s (9 transmissions) within its 5 s bound.
    ///
    /// The password is anything that converts into a [`Secret`] (`&str`, `String`,
    /// `Secret`), as in the other backends' configurations.
    pub fn lanplus(
        host: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        IpmiConfig {
            host: host.into(),
            port: DEFAULT_PORT,
            username: username.into(),
            password: password.into(),
            kg: None,
            interface: Interface::LanPlus {
                cipher: CipherChoice::Auto,
            },
            privilege: Privilege::Administrator,
            retry: RetryPolicy::default(),
        }
    }

    /// The same configuration with another port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The same configuration with a fixed cipher suite (lanplus).
    pub fn with_cipher(mut self, suite: CipherSuite) -> Self {
        self.interface = Interface::LanPlus {
            cipher: CipherChoice::Fixed(suite),
        };
        self
    }

    /// The same configuration over IPMI v1.5 with this authentication type (`None`: ask
    /// the BMC, prefer MD5).
    pub fn with_lan(mut self, auth: Option<V15AuthType>) -> Self {
        self.interface = Interface::Lan { auth };
        self
    }

    /// The same configuration with the BMC key `Kg` (`hexadecimal_kg`: up to 40 hex
    /// digits; RMCP+ only). Checked when the device is created ([`crate::IpmiDevice::new`]).
    pub fn with_kg(mut self, kg: impl Into<Secret>) -> Self {
        self.kg = Some(kg.into());
        self
    }

    /// The same configuration with another privilege level.
    pub fn with_privilege(mut self, privilege: Privilege) -> Self {
        self.privilege = privilege;
        self
    }

    /// The same configuration with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// `host:port` for messages (IPv6 addresses in brackets).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The BMC key as bytes (at most 20, zero-padded), if one is set.
    pub(crate) fn kg_bytes(&self) -> Result<Option<[u8; KEY_MAX_LEN]>> {
        self.kg.as_ref().map(|k| decode_kg(k.expose())).transpose()
    }

    /// Builds the configuration from fence_ipmilan's options (see [`crate::params`]).
    ///
    /// Reads `ip` (or, with `port_as_ip`, `plug`), `ipport`, `username`, `password` (the
    /// CLI has already run `password_script`), `lanplus`, `cipher`, `privlvl`, `auth`,
    /// `hexadecimal_kg`, `ipmitool_timeout` (longest retransmission wait) and `login_timeout`
    /// (bound per request). `target` (bridging) is refused with [`Error::Unsupported`].
    pub fn from_options(options: &Options) -> Result<IpmiConfig> {
        let port_as_ip = options
            .get(common::PORT_AS_IP.name)
            .and_then(parse_bool)
            .unwrap_or(false);
        let host = if port_as_ip {
            options
                .non_empty(PLUG.name)
                .or_else(|| options.non_empty(IP.name))
        } else {
            options.non_empty(IP.name)
        }
        .ok_or_else(|| Error::missing(IP.name))?;
        let host = host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();

        let port = match options.integer(IPPORT.name)? {
            None => DEFAULT_PORT,
            Some(p) => u16::try_from(p).ok().filter(|p| *p != 0).ok_or_else(|| {
                Error::invalid_input(format!("ipport {p} is not a UDP port number"))
            })?,
        };

        let username = options.get(USERNAME.name).unwrap_or("").to_owned();
        if username.len() > USERNAME_MAX_LEN {
            return Err(Error::invalid_input("IPMI user names are at most 16 bytes"));
        }
        let password = options.secret(common::PASSWORD.name).unwrap_or_default();

        if let Some(t) = options.non_empty(TARGET.name) {
            // The address is not secret; it helps the user see which option is meant.
            return Err(Error::unsupported(format!(
                "target={t}: IPMI bridging to another controller is not implemented; \
                 address the target's own BMC instead"
            )));
        }

        let privilege = match options.get(PRIVLVL.name).unwrap_or("administrator") {
            "callback" => Privilege::Callback,
            "user" => Privilege::User,
            "operator" => Privilege::Operator,
            "administrator" | "" => Privilege::Administrator,
            other => {
                return Err(Error::input(
                    PRIVLVL.name,
                    InputProblem::NotAChoice {
                        choices: ["callback", "user", "operator", "administrator"]
                            .map(String::from)
                            .to_vec(),
                        given: Some(other.to_owned()),
                    },
                ));
            }
        };

        let lanplus = options
            .get(LANPLUS.name)
            .map(|v| v.is_empty() || parse_bool(v) == Some(true));
        let interface = if lanplus.unwrap_or(false) {
            let cipher = match options.non_empty(CIPHER.name) {
                None => CipherChoice::Auto,
                Some(c) => CipherChoice::Fixed(parse_cipher(c)?),
            };
            Interface::LanPlus { cipher }
        } else {
            let auth = match options.non_empty(AUTH.name) {
                None => None,
                Some(a) => Some(match a.to_ascii_lowercase().as_str() {
                    "md5" => V15AuthType::Md5,
                    "password" => V15AuthType::Password,
                    "none" => V15AuthType::None,
                    other => {
                        return Err(Error::input(
                            AUTH.name,
                            InputProblem::NotAChoice {
                                choices: ["md5", "password", "none"].map(String::from).to_vec(),
                                given: Some(other.to_owned()),
                            },
                        ));
                    }
                }),
            };
            if password.expose().len() > V15_PASSWORD_MAX_LEN {
                return Err(Error::invalid_input(
                    "IPMI v1.5 (lan) passwords are at most 16 bytes; use --lanplus",
                ));
            }
            Interface::Lan { auth }
        };
        if password.expose().len() > KEY_MAX_LEN {
            return Err(Error::invalid_input("IPMI passwords are at most 20 bytes"));
        }

        let kg = options
            .secret(HEXADECIMAL_KG.name)
            .filter(|k| !k.is_empty());
        if let Some(k) = &kg {
            decode_kg(k.expose())?;
        }

        let interval = match options.non_empty(IPMITOOL_TIMEOUT.name) {
            None => DEFAULT_RETRANSMIT,
            Some(v) => parse_seconds(v)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| Error::input(IPMITOOL_TIMEOUT.name, InputProblem::NotSeconds))?,
        };
        let request_timeout = match options.seconds(common::LOGIN_TIMEOUT.name)? {
            None => DEFAULT_REQUEST_TIMEOUT,
            Some(d) if d.is_zero() => MAX_REQUEST_TIMEOUT,
            Some(d) => d.min(MAX_REQUEST_TIMEOUT),
        };
        Ok(IpmiConfig {
            host,
            port,
            username,
            password,
            kg,
            interface,
            privilege,
            retry: RetryPolicy {
                first: FIRST_RETRANSMIT.min(interval),
                interval,
                request_timeout,
            },
        })
    }
}

/// Parses `cipher`: suites 0, 1, 2, 3 and 17 (0 only because it was asked for by number).
fn parse_cipher(value: &str) -> Result<CipherSuite> {
    let n: u8 = value.trim().parse().map_err(|_| {
        Error::invalid_input(format!(
            "cipher must be a cipher suite number (got '{value}')"
        ))
    })?;
    CipherSuite::from_id(n).ok_or_else(|| {
        Error::unsupported(format!(
            "cipher suite {n}: supported are 1, 2, 3 and 17 (and 0, without authentication, \
             when given explicitly)"
        ))
    })
}

/// Decodes `hexadecimal_kg` (an optional `0x` prefix, at most 40 hex digits) into a
/// zero-padded 20-byte key. Errors never repeat the value.
fn decode_kg(hex: &str) -> Result<[u8; KEY_MAX_LEN]> {
    let h = hex.trim();
    let h = h
        .strip_prefix("0x")
        .or_else(|| h.strip_prefix("0X"))
        .unwrap_or(h);
    let bad = || {
        Error::invalid_input(
            "hexadecimal_kg must be at most 40 hexadecimal digits (an even number)",
        )
    };
    if h.len() % 2 != 0 || h.len() > 2 * KEY_MAX_LEN || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut key = [0u8; KEY_MAX_LEN];
    for (i, slot) in key.iter_mut().take(h.len() / 2).enumerate() {
        *slot = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fence_core::ErrorKind;
    use fence_core::params::ParamTable;

    fn opts(pairs: &[(&str, &str)]) -> Result<IpmiConfig> {
        let table = ParamTable::new()
            .with(&fence_core::params::common::every_agent())
            .with(&crate::params());
        let o = table.parse(pairs.iter().copied())?;
        IpmiConfig::from_options(&o)
    }

    #[test]
    fn defaults_match_fence_ipmilan() {
        let c = opts(&[
            ("ip", "10.0.0.1"),
            ("username", "admin"),
            ("password", "pw"),
        ])
        .unwrap();
        assert_eq!(c.port, 623);
        assert_eq!(c.interface, Interface::Lan { auth: None });
        assert_eq!(c.privilege, Privilege::Administrator);
        assert_eq!(c.retry.interval, Duration::from_secs(2));
        assert_eq!(c.retry.request_timeout, Duration::from_secs(5));
        assert_eq!(
            c.retry.schedule(),
            [0, 300, 900, 1500, 2100, 2700, 3300, 3900, 4500]
                .map(Duration::from_millis)
                .to_vec()
        );
    }

    #[test]
    fn schedule_before_an_answer_is_capped_by_ipmitool_timeout_and_the_bound() {
        let r = |first: u64, interval: u64, bound: u64| RetryPolicy {
            first: Duration::from_millis(first),
            interval: Duration::from_millis(interval),
            request_timeout: Duration::from_millis(bound),
        };
        let ms = |v: &[u64]| {
            v.iter()
                .copied()
                .map(Duration::from_millis)
                .collect::<Vec<_>>()
        };
        // ipmitool_timeout=1 login_timeout=2: the 0.6 s cap applies.
        assert_eq!(r(300, 1000, 2000).schedule(), ms(&[0, 300, 900, 1500]));
        // ipmitool_timeout=0.2: every wait is at most 0.2 s.
        assert_eq!(r(200, 200, 1000).schedule(), ms(&[0, 200, 400, 600, 800]));
        // A longer first wait is cut to the cap.
        assert_eq!(r(1000, 2000, 2000).schedule(), ms(&[0, 600, 1200, 1800]));
        // At 30 % loss each way, the default schedule loses well under 0.5 % of exchanges.
        let sends = RetryPolicy::default().schedule().len();
        let lost = 0.51f64.powi(i32::try_from(sends).unwrap());
        assert!(lost < 0.005, "{sends} transmissions: {lost}");
    }

    /// The figures documented for the defaults (IpmiConfig::lanplus, RetryPolicy::schedule,
    /// the READMEs): sent at 0, 0.3, 0.9, 1.5, ... 4.5 s, 9 transmissions in a 5 s bound;
    /// after an answer with 1 ms round trips every 0.2 s up to 4.8 s.
    #[test]
    fn the_documented_default_schedule_is_the_code_s() {
        let c = IpmiConfig::lanplus("bmc", "admin", "pw");
        let ms = |v: &[u64]| {
            v.iter()
                .copied()
                .map(Duration::from_millis)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            c.retry.schedule(),
            ms(&[0, 300, 900, 1500, 2100, 2700, 3300, 3900, 4500])
        );
        assert_eq!(c.retry.bound(), Duration::from_secs(5));
        let after = c.retry.schedule_after_answer(Duration::from_millis(1));
        assert_eq!(after.first(), Some(&Duration::ZERO));
        assert_eq!(after.get(1), Some(&Duration::from_millis(200)));
        assert_eq!(after.last(), Some(&Duration::from_millis(4800)));
        assert_eq!(c.retry.interval, DEFAULT_RETRANSMIT);
        assert_eq!(c.port, 623);
    }

    #[test]
    fn credentials_are_taken_as_impl_into_secret_and_kg_is_checked_when_the_device_is_made() {
        let c = IpmiConfig::lanplus("bmc", "admin", String::from("pw")).with_kg("0102");
        assert_eq!(c.password.expose(), "pw");
        assert!(crate::IpmiDevice::new(c.clone()).is_ok());
        let bad = c.with_kg("not hex");
        assert!(crate::IpmiDevice::new(bad).is_err());
        let secret = IpmiConfig::lanplus("bmc", "admin", Secret::new("pw2"));
        assert_eq!(secret.password.expose(), "pw2");
    }

    /// Regression: a `request_timeout` set by hand to `Duration::MAX` made `schedule` loop
    /// until the sum of its waits overflowed (a panic, after exhausting memory).
    #[test]
    fn a_huge_request_timeout_is_bounded() {
        let r = RetryPolicy {
            request_timeout: Duration::MAX,
            ..RetryPolicy::default()
        };
        assert_eq!(r.bound(), MAX_REQUEST_TIMEOUT);
        let times = r.schedule();
        assert_eq!(times.len(), 101, "0, 0.3, 0.9, ... 59.7 s: {times:?}");
        assert!(times.iter().all(|t| *t < MAX_REQUEST_TIMEOUT));
        let after = r.schedule_after_answer(Duration::from_millis(1));
        assert_eq!(after.len(), 300, "every 0.2 s for 60 s");
    }

    #[test]
    fn schedule_after_an_answer_uses_the_round_trip() {
        let r = RetryPolicy::default();
        let fast = r.schedule_after_answer(Duration::from_millis(1));
        assert_eq!(fast.len(), 25, "0, 0.2, ... 4.8 s");
        assert_eq!(fast[1], Duration::from_millis(200));
        let slow = r.schedule_after_answer(Duration::from_millis(300));
        assert_eq!(
            slow,
            [0, 1200, 2400, 3600, 4800]
                .map(Duration::from_millis)
                .to_vec()
        );
        let very_slow = r.schedule_after_answer(Duration::from_secs(3));
        assert_eq!(
            very_slow,
            [0, 2000, 4000].map(Duration::from_millis).to_vec(),
            "capped at interval"
        );
    }

    #[test]
    fn lanplus_cipher_privlvl_kg() {
        let c = opts(&[
            ("ip", "bmc"),
            ("lanplus", "1"),
            ("cipher", "3"),
            ("privlvl", "OPERATOR"),
            ("hexadecimal_kg", "0x0102"),
            ("ipmitool_timeout", "1"),
            ("ipport", "6230"),
        ])
        .unwrap();
        assert_eq!(
            c.interface,
            Interface::LanPlus {
                cipher: CipherChoice::Fixed(CipherSuite::SUITE_3)
            }
        );
        assert_eq!(c.privilege, Privilege::Operator);
        assert_eq!(c.port, 6230);
        assert_eq!(c.kg_bytes().unwrap().unwrap()[..3], [1, 2, 0]);
        assert_eq!(c.retry.interval, Duration::from_secs(1));
        let auto = opts(&[("ip", "bmc"), ("lanplus", "")]).unwrap();
        assert_eq!(
            auto.interface,
            Interface::LanPlus {
                cipher: CipherChoice::Auto
            }
        );
        let off = opts(&[("ip", "bmc"), ("lanplus", "0")]).unwrap();
        assert!(
            matches!(off.interface, Interface::Lan { .. }),
            "lanplus=0 means lan"
        );
    }

    #[test]
    fn bad_values_are_refused_without_echoing_secrets() {
        let e = opts(&[("ip", "bmc"), ("lanplus", "1"), ("cipher", "7")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        let e = opts(&[("ip", "bmc"), ("hexadecimal_kg", "zz-secret-zz")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(!e.to_string().contains("secret"));
        let e = opts(&[("ip", "bmc"), ("target", "0x82")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        let e = opts(&[("username", "admin")]).unwrap_err();
        assert_eq!(e.to_string(), "ip is required");
        assert!(
            opts(&[("ip", "bmc"), ("password", "12345678901234567")]).is_err(),
            "lan: 16 max"
        );
        assert!(
            opts(&[
                ("ip", "bmc"),
                ("lanplus", "1"),
                ("password", "12345678901234567")
            ])
            .is_ok()
        );
    }

    #[test]
    fn port_as_ip_takes_the_plug() {
        let c = opts(&[("port_as_ip", "1"), ("plug", "10.1.1.1")]).unwrap();
        assert_eq!(c.host, "10.1.1.1");
        let c = opts(&[("ip", "::1")]).unwrap();
        assert_eq!(c.address(), "[::1]:623");
    }

    #[test]
    fn debug_redacts_password_and_kg() {
        let c = opts(&[
            ("ip", "bmc"),
            ("password", "hunter2"),
            ("lanplus", "1"),
            ("hexadecimal_kg", "abcdef"),
        ])
        .unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && !s.contains("abcdef"), "{s}");
    }
}
