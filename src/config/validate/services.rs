//! Which services run and how the VM reaches them: the optional services
//! (Grafana, the stats exporter), trust in a private registry, and the
//! admin ports published on the VM's address. Plain HTTP to a registry and
//! an admin API on a routable address are test-VM conveniences, refused in
//! strict environments.

use super::Checker;
use crate::config::model::RegistryTrust;
use crate::config::vars::VarId::*;

pub(super) fn check(c: &mut Checker) {
    let strict = c.env.is_strict();
    let env = c.env.to_string();
    let insecure = c.flag(CONTAINER_REGISTRY_INSECURE);
    if insecure && strict {
        c.fail(
            CONTAINER_REGISTRY_INSECURE,
            format!("plain HTTP to a registry is not allowed in {env}, a strict environment"),
            "serve the registry over TLS and set CONTAINER_REGISTRY_CA_FILE to its CA certificate",
        );
    }
    if insecure && c.is_set(CONTAINER_REGISTRY_CA_FILE) {
        c.fail(
            CONTAINER_REGISTRY_INSECURE,
            "is true while CONTAINER_REGISTRY_CA_FILE is set: a registry is reached over TLS or plain HTTP, not both".into(),
            "keep CONTAINER_REGISTRY_CA_FILE and set CONTAINER_REGISTRY_INSECURE=false, or drop the CA file",
        );
    }
    if !c.is_set(CONTAINER_REGISTRY) {
        for id in [CONTAINER_REGISTRY_CA_FILE, CONTAINER_REGISTRY_INSECURE] {
            if c.is_set(id) && (id != CONTAINER_REGISTRY_INSECURE || insecure) {
                c.fail(
                    id,
                    "names no registry: CONTAINER_REGISTRY is not set".into(),
                    "set CONTAINER_REGISTRY=host:port, the registry the image lock's references name",
                );
            }
        }
    } else if !insecure && !c.is_set(CONTAINER_REGISTRY_CA_FILE) {
        c.warn(
            CONTAINER_REGISTRY,
            "changes nothing: neither CONTAINER_REGISTRY_CA_FILE nor CONTAINER_REGISTRY_INSECURE=true is set".into(),
            "set the registry's CA file, or unset CONTAINER_REGISTRY when it has a publicly trusted certificate",
        );
    }
    if c.flag(GRAFANA_ENABLED) && !c.flag(STATS_EXPORTER_ENABLED) {
        c.warn(
            GRAFANA_ENABLED,
            "is true while STATS_EXPORTER_ENABLED=false: the tracker dashboard will be empty"
                .into(),
            "set GRAFANA_ENABLED=false too, or keep the stats exporter",
        );
    }
    if c.flag(PUBLISH_ADMIN_PORTS) && c.text(INFRASTRUCTURE_PROVIDER) != "libvirt" {
        c.fail(
            PUBLISH_ADMIN_PORTS,
            "is for a local libvirt VM on an isolated network; a cloud VM's address is public"
                .into(),
            "keep it false and reach the API through an SSH tunnel (README, \"Health\")",
        );
    }
    if c.flag(PUBLISH_ADMIN_PORTS) && strict {
        c.fail(
            PUBLISH_ADMIN_PORTS,
            format!(
                "would publish the admin API on a routable address in {env}, a strict environment"
            ),
            "keep it false and reach the API through an SSH tunnel (README, \"Health\")",
        );
    }
}

/// The registry trust the values ask for; the CA's text is read later,
/// by `config::load`, which knows the project directory.
pub(super) fn registry(c: &Checker) -> Option<RegistryTrust> {
    c.opt(CONTAINER_REGISTRY).map(|host| RegistryTrust {
        host,
        ca_pem: None,
        insecure: c.flag(CONTAINER_REGISTRY_INSECURE),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{about, config, run};
    use super::*;

    #[test]
    fn plain_http_registries_are_for_lenient_environments() {
        let set = [
            (CONTAINER_REGISTRY, "192.168.123.1:5000"),
            (CONTAINER_REGISTRY_INSECURE, "true"),
        ];
        let c = config(&set);
        let r = c.registry.expect("a registry");
        assert_eq!((r.host.as_str(), r.insecure), ("192.168.123.1:5000", true));
        let (_, r) = run("staging", &set);
        assert_eq!(
            about(&r, CONTAINER_REGISTRY_INSECURE),
            vec!["Error: plain HTTP to a registry is not allowed in staging, a strict environment | serve the registry over TLS and set CONTAINER_REGISTRY_CA_FILE to its CA certificate | environments/staging.env:2"]
        );
    }

    #[test]
    fn trust_needs_a_registry_and_one_way_to_reach_it() {
        let (_, r) = run("local", &[(CONTAINER_REGISTRY_INSECURE, "true")]);
        assert_eq!(
            about(&r, CONTAINER_REGISTRY_INSECURE),
            vec!["Error: names no registry: CONTAINER_REGISTRY is not set | set CONTAINER_REGISTRY=host:port, the registry the image lock's references name | environments/local.env:1"]
        );
        let (_, r) = run(
            "local",
            &[
                (CONTAINER_REGISTRY, "r.example.org"),
                (CONTAINER_REGISTRY_CA_FILE, "ca.pem"),
                (CONTAINER_REGISTRY_INSECURE, "true"),
            ],
        );
        assert_eq!(about(&r, CONTAINER_REGISTRY_INSECURE).len(), 1);
        let (_, r) = run("local", &[(CONTAINER_REGISTRY, "r.example.org")]);
        assert!(about(&r, CONTAINER_REGISTRY)[0].starts_with("Warning: changes nothing"));
        // The default `false` is not a setting of its own.
        let (c, _) = run("local", &[(CONTAINER_REGISTRY_INSECURE, "false")]);
        assert!(c.expect("valid").registry.is_none());
    }

    #[test]
    fn admin_ports_stay_on_loopback_in_strict_environments_and_clouds() {
        assert!(config(&[(PUBLISH_ADMIN_PORTS, "true")]).publish_admin_ports);
        let (_, r) = run(
            "local",
            &[
                (PUBLISH_ADMIN_PORTS, "true"),
                (INFRASTRUCTURE_PROVIDER, "hetzner"),
                (INFRASTRUCTURE_REGION, "fsn1"),
                (INFRASTRUCTURE_INSTANCE_TYPE, "cx22"),
            ],
        );
        assert_eq!(about(&r, PUBLISH_ADMIN_PORTS).len(), 1, "{r}");
        let (_, r) = run("production", &[(PUBLISH_ADMIN_PORTS, "true")]);
        assert_eq!(about(&r, PUBLISH_ADMIN_PORTS).len(), 1);
    }

    #[test]
    fn grafana_off_needs_no_grafana_password() {
        let (_, r) = run("staging", &[(GRAFANA_ENABLED, "false")]);
        assert!(about(&r, GRAFANA_ADMIN_PASSWORD).is_empty(), "{r}");
        let (_, r) = run("staging", &[]);
        assert_eq!(about(&r, GRAFANA_ADMIN_PASSWORD).len(), 1);
        let c = config(&[
            (GRAFANA_ENABLED, "false"),
            (STATS_EXPORTER_ENABLED, "false"),
        ]);
        assert!(!c.grafana && !c.stats_exporter);
    }
}
