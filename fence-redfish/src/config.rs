//! The typed configuration of a Redfish device, built from fence-agents options.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::rows::{
    AUTH_METHOD, IP, IPPORT, PLUG, REDFISH_URI, SSL_CA_FILE, SSL_FINGERPRINT, SSL_KNOWN_HOSTS_FILE,
    SYSTEMS_URI,
};
use fence_core::params::Options;
use fence_core::params::common;
use fence_core::{Error, Result, Secret};

/// The bound used when a timeout option is 0 (fence-agents' "no timeout", also what
/// `disable_timeout` asks for): fence-rs never waits without a bound.
pub const ZERO_TIMEOUT_CEILING: Duration = Duration::from_secs(60);

/// How requests authenticate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP basic authentication on every request (fence_redfish's only method).
    #[default]
    Basic,
    /// One Redfish session (`POST SessionService/Sessions`, `X-Auth-Token`), deleted when
    /// the device is closed.
    Session,
}

/// How the device's TLS certificate is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsVerify {
    /// Verify against the system's roots, plus the CA certificates of `ca_file` when given.
    Verify {
        /// A PEM file of extra CA certificates (`ssl_ca_file`).
        ca_file: Option<PathBuf>,
    },
    /// Accept a certificate that matches one of these pins, whatever its issuer, names or
    /// dates (`ssl_fingerprint`).
    Pinned {
        /// The pins; any one matching is enough.
        pins: Vec<crate::Pin>,
    },
    /// Trust on first use (`ssl_known_hosts_file`): the key the BMC presents first is
    /// recorded in `file`; later, only that key is accepted.
    TrustOnFirstUse {
        /// The known-hosts file.
        file: PathBuf,
    },
    /// Accept any certificate (`ssl_insecure`). The handshake signature is still checked,
    /// but nothing proves who the peer is.
    Insecure,
}

/// The options of a Redfish device.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedfishConfig {
    /// Host name or address of the management board (IPv6 without brackets).
    pub host: String,
    /// HTTPS port (`ipport`, 443).
    pub port: u16,
    /// Login name (`username`).
    pub username: String,
    /// Password (`password`, or the output of `password_script`).
    pub password: Secret,
    /// The service root (`redfish_uri`, `/redfish/v1`).
    pub redfish_uri: String,
    /// The system to fence (`systems_uri`); discovered from the service when `None`.
    pub systems_uri: Option<String>,
    /// Certificate checking (`ssl_insecure`, `ssl_ca_file`).
    pub tls: TlsVerify,
    /// Authentication (`auth_method`).
    pub auth: AuthMethod,
    /// Bound on opening a connection, TCP and TLS (`login_timeout`, 5 s).
    pub connect_timeout: Duration,
    /// Bound on one whole request, connecting included (`login_timeout + shell_timeout`,
    /// 8 s).
    pub request_timeout: Duration,
}

impl fmt::Debug for RedfishConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedfishConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("redfish_uri", &self.redfish_uri)
            .field("systems_uri", &self.systems_uri)
            .field("tls", &self.tls)
            .field("auth", &self.auth)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl RedfishConfig {
    /// A configuration with fence_redfish's defaults: port 443, `/redfish/v1`, discovery of
    /// the system, verified TLS against the system roots, basic authentication, 5 s to
    /// connect and 8 s per request.
    pub fn new(
        host: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        RedfishConfig {
            host: host.into(),
            port: 443,
            username: username.into(),
            password: password.into(),
            redfish_uri: "/redfish/v1".to_owned(),
            systems_uri: None,
            tls: TlsVerify::Verify { ca_file: None },
            auth: AuthMethod::Basic,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(8),
        }
    }

    /// The same configuration with another port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The same configuration with the system given (no discovery).
    pub fn with_systems_uri(mut self, uri: impl Into<String>) -> Self {
        self.systems_uri = Some(uri.into());
        self
    }

    /// The same configuration with another service root.
    pub fn with_redfish_uri(mut self, uri: impl Into<String>) -> Self {
        self.redfish_uri = uri.into();
        self
    }

    /// The same configuration with another certificate check.
    pub fn with_tls(mut self, tls: TlsVerify) -> Self {
        self.tls = tls;
        self
    }

    /// The same configuration with another authentication method.
    pub fn with_auth(mut self, auth: AuthMethod) -> Self {
        self.auth = auth;
        self
    }

    /// The same configuration with other timeouts (zero is replaced by
    /// [`ZERO_TIMEOUT_CEILING`]).
    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = bounded(connect);
        self.request_timeout = bounded(request);
        self
    }

    /// `https://host:port`, with brackets around an IPv6 address.
    pub fn base_url(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("https://[{}]:{}", self.host, self.port)
        } else {
            format!("https://{}:{}", self.host, self.port)
        }
    }

    /// Builds the configuration from options parsed against
    /// [`crate::params`] plus the common rows.
    ///
    /// - `ip` (or `plug` with `port_as_ip`) is required; `host:port` (exactly one `:`) sets
    ///   the port as fence_redfish does, and `[v6addr]:port` is accepted too;
    /// - `username` and `password` are required (the CLI has already run
    ///   `password_script`);
    /// - `ssl_insecure=1` turns certificate verification off (it wins over `ssl_secure`, as
    ///   in fence_redfish); `ssl_insecure=0` leaves it on; `ssl_ca_file` adds trusted CAs;
    /// - connecting is bounded by `login_timeout`, each request by `login_timeout +
    ///   shell_timeout`; a 0 (or `disable_timeout`) becomes [`ZERO_TIMEOUT_CEILING`].
    pub fn from_options(options: &Options) -> Result<RedfishConfig> {
        let username = options
            .non_empty(common::USERNAME.name)
            .ok_or_else(|| Error::missing(common::USERNAME.name))?
            .to_owned();
        let address = match options.non_empty(IP.name) {
            Some(ip) => ip,
            None if options.flag(common::PORT_AS_IP.name) => options
                .non_empty(PLUG.name)
                .ok_or_else(|| Error::missing(IP.name))?,
            None => return Err(Error::missing(IP.name)),
        };
        let password = options
            .secret(common::PASSWORD.name)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Error::missing(common::PASSWORD.name))?;
        let mut port = match options.integer(IPPORT.name)? {
            Some(p) => port_number(&p.to_string())?,
            None => 443,
        };
        let (host, port_in_ip) = split_host_port(address)?;
        if let Some(p) = port_in_ip {
            port = p;
        }
        if host.is_empty() {
            return Err(Error::missing(IP.name));
        }
        let redfish_uri = options
            .non_empty(REDFISH_URI.name)
            .unwrap_or("/redfish/v1")
            .trim_end_matches('/')
            .to_owned();
        check_path("redfish_uri", &redfish_uri)?;
        let systems_uri = options
            .non_empty(SYSTEMS_URI.name)
            .map(|s| s.trim_end_matches('/').to_owned());
        if let Some(s) = &systems_uri {
            check_path("systems_uri", s)?;
        }
        let tls = tls_from(options)?;
        let auth = match options.get(AUTH_METHOD.name).unwrap_or("basic") {
            "session" => AuthMethod::Session,
            _ => AuthMethod::Basic,
        };
        let disabled = options
            .get(common::DISABLE_TIMEOUT.name)
            .and_then(fence_core::params::parse_bool)
            .unwrap_or(false);
        let login = if disabled {
            Duration::ZERO
        } else {
            options
                .seconds(common::LOGIN_TIMEOUT.name)?
                .unwrap_or(Duration::from_secs(5))
        };
        let shell = if disabled {
            Duration::ZERO
        } else {
            options
                .seconds(common::SHELL_TIMEOUT.name)?
                .unwrap_or(Duration::from_secs(3))
        };
        let connect_timeout = bounded(login);
        let request_timeout = if login.is_zero() || shell.is_zero() {
            ZERO_TIMEOUT_CEILING
        } else {
            // Saturating: two timeouts near Duration's limit must not overflow (a panic).
            login.saturating_add(shell)
        };
        Ok(RedfishConfig {
            host,
            port,
            username,
            password,
            redfish_uri,
            systems_uri,
            tls,
            auth,
            connect_timeout,
            request_timeout,
        })
    }
}

fn bounded(d: Duration) -> Duration {
    if d.is_zero() { ZERO_TIMEOUT_CEILING } else { d }
}

fn port_number(s: &str) -> Result<u16> {
    match s.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(Error::invalid_input(format!(
            "The value you have entered for --ipport is not a valid port number: {s}"
        ))),
    }
}

/// `host`, `host:port` (exactly one `:`, as fence_redfish splits it), `[v6]:port`, `[v6]`
/// or a bare IPv6 address.
fn split_host_port(ip: &str) -> Result<(String, Option<u16>)> {
    let ip = ip.trim();
    if let Some(rest) = ip.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| Error::invalid_input(format!("malformed address '{ip}'")))?;
        return match after {
            "" => Ok((host.to_owned(), None)),
            p => match p.strip_prefix(':') {
                Some(p) => Ok((host.to_owned(), Some(port_number(p)?))),
                None => Err(Error::invalid_input(format!("malformed address '{ip}'"))),
            },
        };
    }
    match ip.matches(':').count() {
        1 => {
            let (host, port) = ip.split_once(':').unwrap_or((ip, ""));
            Ok((host.to_owned(), Some(port_number(port)?)))
        }
        _ => Ok((ip.to_owned(), None)),
    }
}

fn check_path(name: &str, value: &str) -> Result<()> {
    if value.starts_with('/') && !value.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "{name} must be a path starting with '/' (got '{value}')"
        )))
    }
}

/// The certificate check the options ask for: at most one of `ssl_insecure`,
/// `ssl_fingerprint`, `ssl_known_hosts_file` and `ssl_ca_file` (each says on its own whom to
/// trust; two would leave it unclear which one decides), except the older pair
/// `ssl_insecure` + `ssl_ca_file`, where `ssl_insecure` wins as it always did.
fn tls_from(options: &Options) -> Result<TlsVerify> {
    let insecure = options.flag(common::SSL_INSECURE.name);
    let ca_file = options.non_empty(SSL_CA_FILE.name);
    let pinned = options.non_empty(SSL_FINGERPRINT.name).is_some()
        || options.non_empty(SSL_KNOWN_HOSTS_FILE.name).is_some();
    if insecure && ca_file.is_some() && !pinned {
        // The pair fence-rs has always taken, ssl_insecure winning: kept, so that a
        // resource configured that way still fences after an upgrade.
        tracing::warn!("ssl_insecure=1 turns verification off: ssl_ca_file is not used");
        return Ok(TlsVerify::Insecure);
    }
    let given: Vec<&'static str> = [
        (insecure, common::SSL_INSECURE.name),
        (
            options.non_empty(SSL_FINGERPRINT.name).is_some(),
            SSL_FINGERPRINT.name,
        ),
        (
            options.non_empty(SSL_KNOWN_HOSTS_FILE.name).is_some(),
            SSL_KNOWN_HOSTS_FILE.name,
        ),
        (
            options.non_empty(SSL_CA_FILE.name).is_some(),
            SSL_CA_FILE.name,
        ),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if given.len() > 1 {
        return Err(Error::invalid_input(format!(
            "{} each decide whom to trust: give one of them",
            given.join(" and ")
        )));
    }
    if insecure {
        return Ok(TlsVerify::Insecure);
    }
    if let Some(text) = options.non_empty(SSL_FINGERPRINT.name) {
        let pins = crate::Pin::parse_list(text)
            .map_err(|why| Error::invalid_option(SSL_FINGERPRINT.name, why))?;
        return Ok(TlsVerify::Pinned { pins });
    }
    if let Some(file) = options.non_empty(SSL_KNOWN_HOSTS_FILE.name) {
        return Ok(TlsVerify::TrustOnFirstUse {
            file: PathBuf::from(file),
        });
    }
    Ok(TlsVerify::Verify {
        ca_file: options.non_empty(SSL_CA_FILE.name).map(PathBuf::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fence_core::InputProblem;
    use fence_core::params::{ParamTable, common};

    fn parse(pairs: &[(&str, &str)]) -> Result<RedfishConfig> {
        let table = ParamTable::new()
            .with(&common::every_agent())
            .with(&crate::params());
        let options = table.parse(pairs.iter().copied())?;
        RedfishConfig::from_options(&options)
    }

    const BASE: &[(&str, &str)] = &[
        ("ip", "10.0.0.5"),
        ("username", "admin"),
        ("password", "hunter2"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v = BASE.to_vec();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn one_trust_option_at_most_but_insecure_still_wins_over_a_ca_file() {
        let base = [("ip", "10.0.0.5"), ("username", "u"), ("password", "p")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut all: Vec<(&str, &str)> = base.to_vec();
            all.extend_from_slice(extra);
            parse(&all)
        };
        let pin = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert_eq!(
            with(&[("ssl_insecure", "1"), ("ssl_ca_file", "/ca.pem")])
                .unwrap()
                .tls,
            TlsVerify::Insecure,
            "as it always was"
        );
        assert!(matches!(
            with(&[("ssl_fingerprint", pin)]).unwrap().tls,
            TlsVerify::Pinned { .. }
        ));
        assert!(matches!(
            with(&[("ssl_known_hosts_file", "/kh")]).unwrap().tls,
            TlsVerify::TrustOnFirstUse { .. }
        ));
        for bad in [
            &[("ssl_insecure", "1"), ("ssl_fingerprint", pin)][..],
            &[("ssl_ca_file", "/ca.pem"), ("ssl_fingerprint", pin)][..],
            &[("ssl_known_hosts_file", "/kh"), ("ssl_fingerprint", pin)][..],
        ] {
            let e = with(bad).unwrap_err();
            assert!(e.to_string().contains("give one of them"), "{bad:?}: {e}");
        }
        let e = with(&[("ssl_fingerprint", "sha1:00")]).unwrap_err();
        assert_eq!(
            e.input_problem().map(|(o, _)| o),
            Some(Some("ssl_fingerprint"))
        );
    }

    #[test]
    fn defaults_follow_fence_redfish() {
        let c = parse(BASE).unwrap();
        assert_eq!(c.host, "10.0.0.5");
        assert_eq!(c.port, 443);
        assert_eq!(c.redfish_uri, "/redfish/v1");
        assert_eq!(c.systems_uri, None);
        assert_eq!(c.tls, TlsVerify::Verify { ca_file: None });
        assert_eq!(c.auth, AuthMethod::Basic);
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.request_timeout, Duration::from_secs(8));
        assert_eq!(c.base_url(), "https://10.0.0.5:443");
    }

    #[test]
    fn ip_with_one_colon_carries_the_port() {
        let c = parse(&[
            ("ip", "bmc.example:8443"),
            ("ipport", "1"),
            ("username", "a"),
            ("password", "b"),
        ])
        .unwrap();
        assert_eq!((c.host.as_str(), c.port), ("bmc.example", 8443));
        let c = parse(&[("ip", "fe80::1"), ("username", "a"), ("password", "b")]).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("fe80::1", 443));
        assert_eq!(c.base_url(), "https://[fe80::1]:443");
        let c = parse(&[("ip", "[::1]:8443"), ("username", "a"), ("password", "b")]).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 8443));
        assert!(parse(&[("ip", "bmc:notaport"), ("username", "a"), ("password", "b")]).is_err());
        assert!(parse(&[("ip", "bmc:0"), ("username", "a"), ("password", "b")]).is_err());
    }

    #[test]
    fn required_options_give_fence_agents_messages() {
        let e = parse(&[("ip", "x"), ("password", "p")]).unwrap_err();
        assert_eq!(
            e.input_problem(),
            Some((Some("username"), &InputProblem::Missing))
        );
        let e = parse(&[("username", "u"), ("password", "p")]).unwrap_err();
        assert_eq!(
            e.input_problem(),
            Some((Some("ip"), &InputProblem::Missing))
        );
        let e = parse(&[("ip", "x"), ("username", "u")]).unwrap_err();
        assert_eq!(
            e.input_problem(),
            Some((Some("password"), &InputProblem::Missing))
        );
        assert_eq!(e.kind(), fence_core::ErrorKind::InvalidInput);
    }

    #[test]
    fn plug_is_the_address_with_port_as_ip() {
        let c = parse(&[
            ("plug", "10.1.1.1:444"),
            ("port_as_ip", "1"),
            ("username", "u"),
            ("password", "p"),
        ])
        .unwrap();
        assert_eq!((c.host.as_str(), c.port), ("10.1.1.1", 444));
        assert!(parse(&[("plug", "10.1.1.1"), ("username", "u"), ("password", "p")]).is_err());
    }

    #[test]
    fn ssl_insecure_zero_keeps_verification() {
        assert_eq!(
            parse(&with(&[("ssl_insecure", "0")])).unwrap().tls,
            TlsVerify::Verify { ca_file: None }
        );
        assert_eq!(
            parse(&with(&[("ssl_insecure", "1")])).unwrap().tls,
            TlsVerify::Insecure
        );
        assert_eq!(
            parse(&with(&[("ssl_insecure", "1"), ("ssl_secure", "1")]))
                .unwrap()
                .tls,
            TlsVerify::Insecure,
            "fence_redfish: ssl_insecure wins"
        );
        assert_eq!(
            parse(&with(&[("ssl_ca_file", "/etc/bmc-ca.pem")]))
                .unwrap()
                .tls,
            TlsVerify::Verify {
                ca_file: Some(PathBuf::from("/etc/bmc-ca.pem"))
            }
        );
    }

    #[test]
    fn uris_and_auth() {
        let c = parse(&with(&[
            ("redfish-uri", "/redfish/v1/"),
            ("systems-uri", "/redfish/v1/Systems/1"),
            ("auth_method", "session"),
        ]))
        .unwrap();
        assert_eq!(c.redfish_uri, "/redfish/v1");
        assert_eq!(c.systems_uri.as_deref(), Some("/redfish/v1/Systems/1"));
        assert_eq!(c.auth, AuthMethod::Session);
        assert!(parse(&with(&[("systems_uri", "Systems/1")])).is_err());
    }

    #[test]
    fn timeouts_are_never_unbounded() {
        let c = parse(&with(&[("login_timeout", "2"), ("shell_timeout", "0.5")])).unwrap();
        assert_eq!(c.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.request_timeout, Duration::from_millis(2500));
        let c = parse(&with(&[("login_timeout", "0")])).unwrap();
        assert_eq!(c.connect_timeout, ZERO_TIMEOUT_CEILING);
        assert_eq!(c.request_timeout, ZERO_TIMEOUT_CEILING);
        let c = parse(&with(&[("disable_timeout", "true")])).unwrap();
        assert_eq!(c.connect_timeout, ZERO_TIMEOUT_CEILING);
        assert_eq!(c.request_timeout, ZERO_TIMEOUT_CEILING);
    }

    /// Regression: `login_timeout` and `shell_timeout` of 10000000000000000000 each (valid
    /// numbers of seconds) panicked with "overflow when adding durations".
    #[test]
    fn huge_timeouts_do_not_overflow() {
        let huge = "10000000000000000000";
        let c = parse(&with(&[("login_timeout", huge), ("shell_timeout", huge)])).unwrap();
        assert_eq!(
            c.connect_timeout,
            Duration::from_secs(10_000_000_000_000_000_000)
        );
        assert_eq!(c.request_timeout, Duration::MAX);
    }

    #[test]
    fn debug_hides_the_password() {
        let c = parse(BASE).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("10.0.0.5"));
    }
}
