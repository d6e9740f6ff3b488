//! Hetzner Cloud: a blocking client of its REST API
//! (https://docs.hetzner.cloud/reference/cloud), the part of the provider
//! that talks to Hetzner. `client.rs` the transport (token, endpoint,
//! timeouts, retries, rate limit, pagination), `error.rs` the API's errors
//! as messages that say what to do, `actions.rs` waiting for actions,
//! `servers.rs`, `volumes.rs`, `floating_ips.rs` the resources a deploy
//! moves. Shapes follow hcloud-go (the official Go client), file by file;
//! tests run against a fake of the API on loopback (`tests/common/
//! hetzner_fake.rs`).
//!
//! `machines.rs` is the `provider::Machines` over them, what
//! `provider::open` gives the deploy layer; `firewalls.rs` finds the
//! firewalls a server is made behind; `placement_groups.rs` the deploy
//! lock on Hetzner's side, for operators on other machines.

pub mod actions;
pub mod client;
pub mod error;
pub mod firewalls;
pub mod floating_ips;
pub mod machines;
pub mod placement_groups;
pub mod servers;
pub mod volumes;

use std::collections::BTreeMap;

pub use actions::Action;
pub use client::{Client, Options, RateLimit, Token, DEFAULT_ENDPOINT};
pub use error::{ApiError, Failure};
pub use floating_ips::FloatingIp;
pub use servers::{NewServer, Server};
pub use volumes::{NewVolume, Volume};

/// The labels torrust-bake puts on what it makes for `env`: a server gets
/// its `release` too; the volume and floating IPs only `app` and `env`.
pub fn labels(env: &str, release: Option<&str>) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        ("app".to_string(), "torrust".to_string()),
        ("env".to_string(), env.to_string()),
    ]);
    if let Some(r) = release {
        l.insert("release".to_string(), r.to_string());
    }
    l
}

/// The label selector for `labels` (`app=torrust,env=production`): every
/// one must match (the API's `,` is AND).
pub fn selector(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_their_selector() {
        let l = labels("production", Some("0123456789ab"));
        assert_eq!(
            selector(&l),
            "app=torrust,env=production,release=0123456789ab"
        );
        assert_eq!(
            selector(&labels("staging", None)),
            "app=torrust,env=staging"
        );
    }
}
