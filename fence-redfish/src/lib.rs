#![doc = include_str!("../README.md")]
//!
//! ## Where to start
//!
//! [`RedfishConfig`] (built with [`RedfishConfig::new`] and its `with_*` methods, or from
//! fence_redfish's options by [`RedfishConfig::from_options`]), [`TlsVerify`], [`Pin`] and
//! [`AuthMethod`], [`RedfishDevice`] (the [`fence_core::FenceDevice`]; its
//! [`close`](fence_core::FenceDevice::close) deletes the session), [`AGENTS`] (the
//! `fence_redfish` persona of the CLI), [`params`] and [`rows`] (its parameter rows).
#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

mod cert;
mod client;
mod collection;
pub mod config;
pub mod device;
mod files;
mod known_hosts;
mod pin;
mod tls;

pub use config::{AuthMethod, RedfishConfig, TlsVerify};
pub use device::RedfishDevice;
pub use pin::Pin;

use fence_core::FenceDevice;
use fence_core::agent::{AgentFamily, FailureLine, FailureWording, Persona, Plugs};
use fence_core::params::{Options, ParamSpec, ParamType, common};

/// The agent this backend serves, for a fence-agents front end (fence-cli).
pub static AGENTS: AgentFamily = AgentFamily {
    personas: &[Persona {
        name: "fence_redfish",
        shortdesc: "I/O Fencing agent for Redfish",
        defaults: &[],
    }],
    longdesc: "{invoked} is a Power Fencing agent which can be used with Out-of-Band \
controllers that support Redfish APIs. These controllers provide remote access to control \
power on a server.",
    vendor_url: "http://www.dmtf.org",
    plugs: Plugs::PortAsIp,
    needs_password: true,
    accepts_diag: true,
    // fence_redfish ends every failure with fail_usage.
    failure: FailureWording {
        plug_not_found: None,
        login_or_unreachable: None,
        any: Some(FailureLine::Usage("")),
        cycle: None,
    },
    params,
    build: build_device,
};

/// [`AgentFamily::build`]: the configuration from the options, then the device (no I/O).
fn build_device(options: &Options) -> fence_core::Result<Box<dyn FenceDevice>> {
    let config = RedfishConfig::from_options(options)?;
    Ok(Box::new(RedfishDevice::new(config)?))
}

/// The parameter rows of fence_redfish, as fence-agents 4.12 prints them.
pub mod rows {
    use super::{ParamSpec, ParamType, common};

    /// `ip` (`ipaddr`): not required, because `plug` can carry the address (`port_as_ip`).
    pub const IP: ParamSpec = common::IP.required(false);
    /// `ipport`: 443.
    pub const IPPORT: ParamSpec = common::IPPORT.default_value("443");
    /// `plug` (`port`): the address of the device, together with `port_as_ip`.
    pub const PLUG: ParamSpec = common::PLUG
        .hint("ip")
        .required(false)
        .desc("IP address or hostname of fencing device (together with --port-as-ip)");
    /// `ssl`: always on for Redfish (fence_redfish forces it; default 1).
    pub const SSL: ParamSpec = common::SSL.default_value("1");
    /// `redfish_uri` (`redfish-uri`): the service root.
    pub const REDFISH_URI: ParamSpec = ParamSpec::new("redfish_uri", ParamType::String)
        .deprecated("redfish-uri")
        .long("redfish-uri")
        .hint("uri")
        .default_value("/redfish/v1")
        .desc("Base or starting Redfish URI");
    /// `systems_uri` (`systems-uri`): the system to fence; discovered when not given.
    pub const SYSTEMS_URI: ParamSpec = ParamSpec::new("systems_uri", ParamType::String)
        .deprecated("systems-uri")
        .long("systems-uri")
        .hint("uri")
        .desc("Redfish Systems resource URI, i.e. /redfish/v1/Systems/System.Embedded.1");
    /// `gnutlscli_path`: accepted for compatibility only.
    pub const GNUTLSCLI_PATH: ParamSpec = ParamSpec::new("gnutlscli_path", ParamType::String)
        .long("gnutlscli-path")
        .hint("path")
        .default_value("/usr/bin/gnutls-cli")
        .order(300)
        .desc("Path to gnutls-cli binary")
        .unused("TLS is built in (rustls); no gnutls-cli is run");
    /// `ssl_ca_file` (fence-rs): a PEM file of CA certificates trusted besides the system's,
    /// or of the BMC's own (self-signed) certificate, trusted as itself.
    pub const SSL_CA_FILE: ParamSpec = ParamSpec::new("ssl_ca_file", ParamType::String)
        .long("ssl-ca-file")
        .hint("file")
        .desc("PEM file of CA certificates to trust for the device's certificate, besides the system's roots; may hold the device's own self-signed certificate (fence-rs)");
    /// `ssl_fingerprint` (fence-rs): pins of the BMC's certificate.
    pub const SSL_FINGERPRINT: ParamSpec = ParamSpec::new("ssl_fingerprint", ParamType::String)
        .long("ssl-fingerprint")
        .hint("pin")
        .desc("Accept only this certificate, whatever its issuer: sha256:AB:CD:... (openssl x509 -noout -fingerprint -sha256) or sha256//BASE64 (curl --pinnedpubkey); several separated by ';' (fence-rs)");
    /// `ssl_known_hosts_file` (fence-rs): trust on first use.
    pub const SSL_KNOWN_HOSTS_FILE: ParamSpec =
        ParamSpec::new("ssl_known_hosts_file", ParamType::String)
            .long("ssl-known-hosts-file")
            .hint("file")
            .desc("Trust on first use: record the device's key in this file the first time, refuse another key later (fence-rs)");
    /// `auth_method` (fence-rs): HTTP basic authentication or a Redfish session.
    pub const AUTH_METHOD: ParamSpec =
        ParamSpec::new("auth_method", ParamType::Select(&["basic", "session"]))
            .long("auth-method")
            .hint("method")
            .default_value("basic")
            .desc("Authentication: basic (HTTP basic on every request) or session (one Redfish session, deleted at the end) (fence-rs)");
}

/// The parameter rows of this backend, besides
/// [`fence_core::params::common::every_agent`]: the fence_redfish options (with their
/// deprecated aliases, getopt forms, defaults and descriptions as fence-agents prints them),
/// `port_as_ip`, the compatibility-only `gnutlscli_path`, and this implementation's
/// additions `ssl_ca_file`, `ssl_fingerprint`, `ssl_known_hosts_file` and `auth_method`.
pub fn params() -> Vec<ParamSpec> {
    vec![
        rows::IP,
        rows::IPPORT,
        common::USERNAME,
        common::PASSWORD,
        common::PASSWORD_SCRIPT,
        rows::PLUG,
        common::PORT_AS_IP,
        rows::REDFISH_URI,
        rows::SYSTEMS_URI,
        rows::SSL,
        common::SSL_SECURE,
        common::SSL_INSECURE,
        rows::GNUTLSCLI_PATH,
        rows::SSL_CA_FILE,
        rows::SSL_FINGERPRINT,
        rows::SSL_KNOWN_HOSTS_FILE,
        rows::AUTH_METHOD,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use fence_core::params::{ParamTable, Usage};

    fn row(name: &str) -> ParamSpec {
        params()
            .into_iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    }

    /// (name, deprecated, getopt mixed, type, default, required, shortdesc).
    type Expected = (
        &'static str,
        Option<&'static str>,
        &'static str,
        &'static str,
        Option<&'static str>,
        bool,
        &'static str,
    );

    /// The rows as fence-agents 4.12.1's `fence_redfish -o metadata` prints them.
    #[test]
    fn rows_match_fence_redfish_metadata() {
        let expected: &[Expected] = &[
            (
                "ip",
                Some("ipaddr"),
                "-a, --ip=[ip]",
                "string",
                None,
                false,
                "IP address or hostname of fencing device",
            ),
            (
                "ipport",
                None,
                "-u, --ipport=[port]",
                "integer",
                Some("443"),
                false,
                "TCP/UDP port to use for connection with device",
            ),
            (
                "username",
                Some("login"),
                "-l, --username=[name]",
                "string",
                None,
                true,
                "Login name",
            ),
            (
                "password",
                Some("passwd"),
                "-p, --password=[password]",
                "string",
                None,
                false,
                "Login password or passphrase",
            ),
            (
                "password_script",
                Some("passwd_script"),
                "-S, --password-script=[script]",
                "string",
                None,
                false,
                "Script to run to retrieve password",
            ),
            (
                "plug",
                Some("port"),
                "-n, --plug=[ip]",
                "string",
                None,
                false,
                "IP address or hostname of fencing device (together with --port-as-ip)",
            ),
            (
                "redfish_uri",
                Some("redfish-uri"),
                "--redfish-uri=[uri]",
                "string",
                Some("/redfish/v1"),
                false,
                "Base or starting Redfish URI",
            ),
            (
                "systems_uri",
                Some("systems-uri"),
                "--systems-uri=[uri]",
                "string",
                None,
                false,
                "Redfish Systems resource URI, i.e. /redfish/v1/Systems/System.Embedded.1",
            ),
            (
                "ssl",
                None,
                "-z, --ssl",
                "boolean",
                Some("1"),
                false,
                "Use SSL connection with verifying certificate",
            ),
            (
                "ssl_insecure",
                None,
                "--ssl-insecure",
                "boolean",
                None,
                false,
                "Use SSL connection without verifying certificate",
            ),
            (
                "ssl_secure",
                None,
                "--ssl-secure",
                "boolean",
                None,
                false,
                "Use SSL connection with verifying certificate",
            ),
            (
                "port_as_ip",
                None,
                "--port-as-ip",
                "boolean",
                None,
                false,
                "Make \"port/plug\" to be an alias to IP address",
            ),
            (
                "gnutlscli_path",
                None,
                "--gnutlscli-path=[path]",
                "string",
                Some("/usr/bin/gnutls-cli"),
                false,
                "Path to gnutls-cli binary",
            ),
        ];
        for (name, deprecated, mixed, ty, default, required, desc) in expected {
            let r = row(name);
            assert_eq!(r.deprecated_name, *deprecated, "{name}: deprecated name");
            assert_eq!(r.mixed(), *mixed, "{name}: getopt");
            assert_eq!(r.ty.content_type(), *ty, "{name}: type");
            assert_eq!(r.default, *default, "{name}: default");
            assert_eq!(r.required, *required, "{name}: required");
            assert_eq!(r.shortdesc, *desc, "{name}: shortdesc");
        }
        // Metadata order: connection options 1, port_as_ip 200, paths 300.
        assert_eq!(row("ip").order, 1);
        assert_eq!(row("redfish_uri").order, 1);
        assert_eq!(row("port_as_ip").order, 200);
        assert_eq!(row("gnutlscli_path").order, 300);
        assert!(matches!(row("gnutlscli_path").usage, Usage::Unused(_)));
        assert!(row("password").secret);
    }

    #[test]
    fn getopt_letters_are_unique_with_the_common_rows() {
        let mut all = common::every_agent();
        all.extend(params());
        let mut letters: Vec<char> = all.iter().filter_map(|r| r.short).collect();
        let n = letters.len();
        letters.sort_unstable();
        letters.dedup();
        assert_eq!(letters.len(), n, "duplicate short option");
        let mut longs: Vec<&str> = all.iter().map(|r| r.long).collect();
        let n = longs.len();
        longs.sort_unstable();
        longs.dedup();
        assert_eq!(longs.len(), n, "duplicate long option");
    }

    #[test]
    fn dashed_and_underscored_names_resolve() {
        let table = ParamTable::new()
            .with(&common::every_agent())
            .with(&params());
        for key in ["redfish-uri", "redfish_uri"] {
            assert_eq!(table.resolve(key).map(|r| r.name), Some("redfish_uri"));
        }
        for key in ["systems-uri", "systems_uri"] {
            assert_eq!(table.resolve(key).map(|r| r.name), Some("systems_uri"));
        }
        for key in ["ssl-ca-file", "ssl_ca_file"] {
            assert_eq!(table.resolve(key).map(|r| r.name), Some("ssl_ca_file"));
        }
        assert_eq!(table.resolve("ipaddr").map(|r| r.name), Some("ip"));
        assert_eq!(table.resolve("port").map(|r| r.name), Some("plug"));
        let o = table.parse([("auth_method", "SESSION")]).unwrap();
        assert_eq!(o.get("auth_method"), Some("session"));
        assert!(table.parse([("auth_method", "kerberos")]).is_err());
    }
}
