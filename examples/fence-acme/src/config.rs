//! The board's settings, from the agent's options (read through the rows' names).

use std::time::Duration;

use crate::IPPORT;
use fence_core::params::Options;
use fence_core::params::common;
use fence_core::{Error, Result, Secret};

/// How to reach and log in to one board.
#[derive(Clone, Debug)]
pub struct AcmeConfig {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Login name.
    pub username: String,
    /// Password (never printed).
    pub password: Secret,
    /// Bound on connecting and on each answer.
    pub timeout: Duration,
}

impl AcmeConfig {
    /// A configuration for `host` with the default port and a 5 s bound.
    pub fn new(host: &str, username: &str, password: Secret) -> AcmeConfig {
        AcmeConfig {
            host: host.to_owned(),
            port: crate::DEFAULT_PORT,
            username: username.to_owned(),
            password,
            timeout: Duration::from_secs(5),
        }
    }

    /// The configuration the options describe (`ip` or, with `port_as_ip`, `plug`;
    /// `ipport`, `username`, `password`, `login_timeout`).
    pub fn from_options(options: &Options) -> Result<AcmeConfig> {
        let host = options
            .non_empty(common::IP.name)
            .or_else(|| {
                options
                    .non_empty(common::PLUG.name)
                    .filter(|_| options.flag(common::PORT_AS_IP.name))
            })
            .ok_or_else(|| Error::missing(common::IP.name))?;
        let username = options.non_empty(common::USERNAME.name).unwrap_or("admin");
        let password = options
            .secret(common::PASSWORD.name)
            .ok_or_else(|| Error::missing(common::PASSWORD.name))?;
        let mut config = AcmeConfig::new(host, username, password);
        if let Some(port) = options.integer(IPPORT.name)? {
            config.port = u16::try_from(port).map_err(|_| {
                Error::invalid_option(IPPORT.name, format!("{port} is not a TCP port"))
            })?;
        }
        if let Some(t) = options.seconds(common::LOGIN_TIMEOUT.name)? {
            config.timeout = t;
        }
        Ok(config)
    }
}
