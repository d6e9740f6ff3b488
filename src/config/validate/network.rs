//! Network rules: every TCP listener has its own port; a domain (Caddy with
//! TLS) needs an ACME e-mail and should not be an example.

use std::collections::BTreeMap;

use super::Checker;
use crate::config::vars::VarId::{self, *};

pub(super) fn check(c: &mut Checker) {
    tcp_ports_are_distinct(c);
    reverse_proxy(c);
}

/// TCP listeners share one port space; UDP ports are checked in their list.
fn tcp_ports_are_distinct(c: &mut Checker) {
    let mut seen: BTreeMap<u16, VarId> = BTreeMap::new();
    for id in [
        TORRUST_TRACKER_HTTP_PORTS,
        TORRUST_TRACKER_API_PORT,
        TORRUST_TRACKER_HEALTH_CHECK_PORT,
        PROMETHEUS_PORT,
        GRAFANA_PORT,
    ] {
        for port in c.ports(id) {
            if let Some(other) = seen.insert(port, id) {
                c.fail(
                    id,
                    format!("TCP port {port} is also used by {}", other.name()),
                    "give every TCP listener its own port",
                );
            }
        }
    }
}

fn reverse_proxy(c: &mut Checker) {
    if c.is_set(DOMAIN_NAME) && !c.is_set(SSL_EMAIL) {
        c.fail(
            SSL_EMAIL,
            "is required when DOMAIN_NAME is set (ACME account for the TLS certificates)".into(),
            "set SSL_EMAIL=you@example.org",
        );
    }
    if c.env.as_str() == "production" && c.text(DOMAIN_NAME).ends_with("example.com") {
        c.warn(
            DOMAIN_NAME,
            "is an example domain".into(),
            "set the domain whose DNS points at this tracker",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{about, config, run};
    use super::*;

    #[test]
    fn tcp_listeners_need_their_own_ports() {
        let (_, r) = run(
            "local",
            &[
                (TORRUST_TRACKER_HTTP_PORTS, "7070,1212"),
                (GRAFANA_PORT, "7070"),
            ],
        );
        assert_eq!(
            about(&r, TORRUST_TRACKER_API_PORT),
            vec!["Error: TCP port 1212 is also used by TORRUST_TRACKER_HTTP_PORTS | give every TCP listener its own port | default"]
        );
        assert_eq!(about(&r, GRAFANA_PORT).len(), 1);
        // UDP and TCP may share a number.
        let c = config(&[(TORRUST_TRACKER_UDP_PORTS, "7070")]);
        assert_eq!(c.udp_ports[0].0, c.http_ports[0].0);
    }

    #[test]
    fn a_domain_needs_an_acme_email() {
        let (_, r) = run("local", &[(DOMAIN_NAME, "tracker.example.org")]);
        assert_eq!(
            about(&r, SSL_EMAIL),
            vec!["Error: is required when DOMAIN_NAME is set (ACME account for the TLS certificates) | set SSL_EMAIL=you@example.org | default"]
        );
        let c = config(&[
            (DOMAIN_NAME, "tracker.example.org"),
            (SSL_EMAIL, "a@example.org"),
        ]);
        assert_eq!(c.domain_name.as_deref(), Some("tracker.example.org"));
    }

    #[test]
    fn production_warns_about_example_domains() {
        let set = [(DOMAIN_NAME, "tracker.example.com"), (SSL_EMAIL, "a@b.org")];
        let (_, r) = run("production", &set);
        assert_eq!(
            about(&r, DOMAIN_NAME),
            vec!["Warning: is an example domain | set the domain whose DNS points at this tracker | environments/production.env:1"]
        );
        let (_, r) = run("local", &set);
        assert!(about(&r, DOMAIN_NAME).is_empty());
    }
}
