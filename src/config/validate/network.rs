//! Network rules: every TCP listener has its own port; a domain (Caddy with
//! TLS) needs an ACME e-mail, and neither may be at an example domain in a
//! strict environment.

use std::collections::BTreeMap;

use super::Checker;
use crate::config::model::BOOT_STATUS_PORT;
use crate::config::vars::VarId::{self, *};

/// The TCP listeners, each with its own port (or ports).
const TCP: [VarId; 5] = [
    TORRUST_TRACKER_HTTP_PORTS,
    TORRUST_TRACKER_API_PORT,
    TORRUST_TRACKER_HEALTH_CHECK_PORT,
    PROMETHEUS_PORT,
    GRAFANA_PORT,
];

pub(super) fn check(c: &mut Checker) {
    someone_is_served(c);
    tcp_ports_are_distinct(c);
    reverse_proxy(c);
    proxy_ports_are_free(c);
    host_ports_are_free(c);
}

/// A tracker with neither a UDP nor an HTTP port serves no client.
fn someone_is_served(c: &mut Checker) {
    let udp = c.ports(TORRUST_TRACKER_UDP_PORTS);
    let http = c.ports(TORRUST_TRACKER_HTTP_PORTS);
    let unparsed = |c: &Checker, id| c.is_set(id) && c.ports(id).is_empty();
    if udp.is_empty()
        && http.is_empty()
        && !unparsed(c, TORRUST_TRACKER_UDP_PORTS)
        && !unparsed(c, TORRUST_TRACKER_HTTP_PORTS)
    {
        c.fail(
            TORRUST_TRACKER_UDP_PORTS,
            "and TORRUST_TRACKER_HTTP_PORTS are both empty: the tracker would serve no client"
                .into(),
            "set at least one port, e.g. TORRUST_TRACKER_UDP_PORTS=6969",
        );
    }
}

/// The VM's sshd listens on 22 and the release's boot status on
/// `BOOT_STATUS_PORT`, on every address: a tracker listener there could not
/// bind.
fn host_ports_are_free(c: &mut Checker) {
    let taken = [
        (22, "the VM's SSH"),
        (
            BOOT_STATUS_PORT,
            "the release's boot status (what a deploy reads)",
        ),
    ];
    for id in TCP {
        for (port, whose) in taken {
            if c.ports(id).contains(&port) {
                c.fail(
                    id,
                    format!("TCP port {port} is {whose}"),
                    "pick another port",
                );
            }
        }
    }
}

/// Caddy (with DOMAIN_NAME) publishes 80 and 443 over TCP and 443 over UDP
/// (HTTP/3) on every address: no other listener may take them.
fn proxy_ports_are_free(c: &mut Checker) {
    if !c.is_set(DOMAIN_NAME) {
        return;
    }
    let fix = "pick another port: with DOMAIN_NAME set, the reverse proxy owns 80/tcp, 443/tcp and 443/udp";
    for id in TCP {
        for port in c.ports(id).into_iter().filter(|p| *p == 80 || *p == 443) {
            c.fail(id, format!("TCP port {port} is the reverse proxy's"), fix);
        }
    }
    if c.ports(TORRUST_TRACKER_UDP_PORTS).contains(&443) {
        c.fail(
            TORRUST_TRACKER_UDP_PORTS,
            "UDP port 443 is the reverse proxy's (HTTP/3)".into(),
            fix,
        );
    }
}

/// TCP listeners share one port space; UDP ports are checked in their list.
fn tcp_ports_are_distinct(c: &mut Checker) {
    let mut seen: BTreeMap<u16, VarId> = BTreeMap::new();
    for id in TCP {
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
    // Reserved names are nobody's tracker: the committed staging and
    // production files carry them as placeholders, refused there as
    // placeholder secrets are; a lenient environment hears about them.
    // Probing and the layout check do not send mail or ask for
    // certificates: a warning is enough there.
    let refuse = c.env.is_strict() && c.purpose == super::Purpose::Build;
    let strict_note = if refuse {
        ""
    } else {
        " (a strict environment refuses it)"
    };
    if let Some(reserved) = placeholder_domain(&c.text(DOMAIN_NAME)) {
        let message =
            format!("is an example domain ({reserved} is reserved: no DNS points it at a tracker)");
        let fix =
            format!("set DOMAIN_NAME to the domain whose DNS points at this tracker{strict_note}");
        if refuse {
            c.fail(DOMAIN_NAME, message, &fix);
        } else {
            c.warn(DOMAIN_NAME, message, &fix);
        }
    }
    let email = c.text(SSL_EMAIL);
    if let Some(reserved) = email
        .rsplit_once('@')
        .and_then(|(_, d)| placeholder_domain(d))
    {
        let message = format!(
            "is at an example domain ({reserved}): the ACME account's mail would go nowhere"
        );
        let fix = format!("set SSL_EMAIL to an address you read (certificate expiry warnings go there){strict_note}");
        if refuse {
            c.fail(SSL_EMAIL, message, &fix);
        } else {
            c.warn(SSL_EMAIL, message, &fix);
        }
    }
}

/// The reserved name `domain` is or is under, if any: example.com/.net/.org
/// and the .example, .test, .invalid and .localhost top-level domains
/// (RFC 2606, RFC 6761), none of which anyone's DNS serves.
fn placeholder_domain(domain: &str) -> Option<&'static str> {
    let d = domain.to_ascii_lowercase();
    let d = d.trim_end_matches('.');
    [
        "example.com",
        "example.net",
        "example.org",
        "example",
        "test",
        "invalid",
        "localhost",
    ]
    .into_iter()
    .find(|e| d == *e || d.ends_with(&format!(".{e}")))
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
    fn the_reverse_proxy_owns_80_and_443() {
        let domain = [
            (DOMAIN_NAME, "tracker.example.org"),
            (SSL_EMAIL, "a@example.org"),
        ];
        let mut set = domain.to_vec();
        set.extend([
            (TORRUST_TRACKER_UDP_PORTS, "6969,443"),
            (TORRUST_TRACKER_API_PORT, "80"),
        ]);
        let (_, r) = run("local", &set);
        assert!(
            about(&r, TORRUST_TRACKER_UDP_PORTS)[0].contains("UDP port 443 is the reverse proxy's")
        );
        assert!(
            about(&r, TORRUST_TRACKER_API_PORT)[0].contains("TCP port 80 is the reverse proxy's")
        );
        // Without a domain there is no proxy: 443 is free.
        config(&[(TORRUST_TRACKER_UDP_PORTS, "443")]);
        config(&domain);
    }

    #[test]
    fn ssh_keeps_22() {
        let (_, r) = run("local", &[(TORRUST_TRACKER_HTTP_PORTS, "22")]);
        assert_eq!(
            about(&r, TORRUST_TRACKER_HTTP_PORTS),
            vec![
                "Error: TCP port 22 is the VM's SSH | pick another port | environments/local.env:1"
            ]
        );
    }

    #[test]
    fn the_boot_status_keeps_its_port() {
        let (_, r) = run("local", &[(TORRUST_TRACKER_API_PORT, "9099")]);
        assert_eq!(
            about(&r, TORRUST_TRACKER_API_PORT),
            vec![
                "Error: TCP port 9099 is the release's boot status (what a deploy reads) | pick another port | environments/local.env:1"
            ]
        );
    }

    #[test]
    fn a_tracker_serves_someone() {
        let (_, r) = run(
            "local",
            &[
                (TORRUST_TRACKER_UDP_PORTS, ""),
                (TORRUST_TRACKER_HTTP_PORTS, ""),
            ],
        );
        assert!(
            about(&r, TORRUST_TRACKER_UDP_PORTS)[0].contains("both empty"),
            "{r}"
        );
        config(&[(TORRUST_TRACKER_UDP_PORTS, "")]);
        config(&[(TORRUST_TRACKER_HTTP_PORTS, "")]);
    }

    #[test]
    fn strict_environments_refuse_example_domains_lenient_ones_warn() {
        let set = [(DOMAIN_NAME, "tracker.example.com"), (SSL_EMAIL, "a@b.org")];
        let (config, r) = run("production", &set);
        assert!(config.is_none());
        assert_eq!(
            about(&r, DOMAIN_NAME),
            vec!["Error: is an example domain (example.com is reserved: no DNS points it at a tracker) | set DOMAIN_NAME to the domain whose DNS points at this tracker | environments/production.env:1"]
        );
        let (config, r) = run("local", &set);
        assert!(config.is_some());
        assert_eq!(
            about(&r, DOMAIN_NAME),
            vec!["Warning: is an example domain (example.com is reserved: no DNS points it at a tracker) | set DOMAIN_NAME to the domain whose DNS points at this tracker (a strict environment refuses it) | environments/local.env:1"]
        );
        let (_, r) = run(
            "staging",
            &[
                (DOMAIN_NAME, "staging.tracker.example.com"),
                (SSL_EMAIL, "admin@example.com"),
            ],
        );
        assert_eq!(about(&r, DOMAIN_NAME).len(), 1);
        assert_eq!(
            about(&r, SSL_EMAIL),
            vec!["Error: is at an example domain (example.com): the ACME account's mail would go nowhere | set SSL_EMAIL to an address you read (certificate expiry warnings go there) | environments/staging.env:2"]
        );
        for (domain, reserved) in [
            ("tracker.example.org", "example.org"),
            ("EXAMPLE.NET", "example.net"),
            ("tracker.example", "example"),
            ("tracker.test", "test"),
            ("a.b.invalid", "invalid"),
            ("tracker.localhost", "localhost"),
        ] {
            assert_eq!(placeholder_domain(domain), Some(reserved), "{domain}");
        }
        for real in [
            "example.community.org",
            "torrust-demo.com",
            "testing.org",
            "mytest.net",
            "example.com.au",
        ] {
            assert_eq!(placeholder_domain(real), None, "{real}");
        }
        // A real domain passes in production.
        let (_, r) = run(
            "production",
            &[
                (DOMAIN_NAME, "tracker.torrust-demo.com"),
                (SSL_EMAIL, "admin@torrust-demo.com"),
            ],
        );
        assert!(
            about(&r, DOMAIN_NAME).is_empty() && about(&r, SSL_EMAIL).is_empty(),
            "{r}"
        );
    }
}
