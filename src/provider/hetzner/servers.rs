//! Servers: create (with the release's user-data), get, list by label,
//! shutdown, power off and on, delete.
//!
//! Shapes from hcloud-go `hcloud/schema/server.go`: a server is `{id, name,
//! status (initializing, starting, running, stopping, off, deleting,
//! migrating, rebuilding, unknown: `hcloud/server.go`), public_net {ipv4
//! {ip}, ipv6 {ip}, floating_ips}, labels, volumes, locked, location,
//! server_type, ...}`; `ServerCreateRequest` is `{name, server_type, image,
//! location, ssh_keys, user_data, start_after_create, labels, automount,
//! volumes, firewalls [{firewall}], public_net}` (no `datacenter`: gone
//! from the API); its answer `{server, action, next_actions,
//! root_password}`. `GET /servers` filters by `name` and `label_selector`.
//! A shutdown action may succeed before the server is off (hcloud CLI issue
//! 489, FIELD-NOTES.md): `wait_status` polls the server itself.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use super::actions::{of_answer, poll_delay};
use super::client::Client;
use super::error::Failure;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Named {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Ip {
    pub ip: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PublicNet {
    #[serde(default)]
    pub ipv4: Option<Ip>,
    #[serde(default)]
    pub ipv6: Option<Ip>,
    #[serde(default)]
    pub floating_ips: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Server {
    pub id: u64,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub public_net: PublicNet,
    #[serde(default)]
    pub volumes: Vec<u64>,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub location: Option<Named>,
    #[serde(default)]
    pub server_type: Option<Named>,
}

impl Server {
    /// Its public addresses (IPv4, then the IPv6 network).
    pub fn addresses(&self) -> Vec<String> {
        [&self.public_net.ipv4, &self.public_net.ipv6]
            .into_iter()
            .flatten()
            .map(|i| i.ip.clone())
            .collect()
    }
}

/// What `POST /servers` is asked to make.
#[derive(Clone, Default)]
pub struct NewServer {
    pub name: String,
    pub server_type: String,
    pub image: String,
    pub location: String,
    /// SSH key ids or names (the API takes either); at least one, or the
    /// API answers with a root password, a secret we refuse to hold.
    pub ssh_keys: Vec<String>,
    pub firewalls: Vec<u64>,
    pub labels: BTreeMap<String, String>,
    /// The release's user-data (cloud-config; at most 32 KiB). Secret.
    pub user_data: String,
    pub start_after_create: bool,
    /// Volumes attached at creation (a first deploy's data volume).
    pub volumes: Vec<u64>,
}

impl fmt::Debug for NewServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewServer")
            .field("name", &self.name)
            .field("server_type", &self.server_type)
            .field("image", &self.image)
            .field("location", &self.location)
            .field("ssh_keys", &self.ssh_keys)
            .field("firewalls", &self.firewalls)
            .field("labels", &self.labels)
            .field(
                "user_data",
                &format_args!("<{} bytes>", self.user_data.len()),
            )
            .field("start_after_create", &self.start_after_create)
            .field("volumes", &self.volumes)
            .finish()
    }
}

/// An id where the text is one, else the name: the API's "ID or name".
fn id_or_name(s: &str) -> Value {
    s.parse::<u64>().map_or_else(|_| json!(s), |id| json!(id))
}

impl NewServer {
    fn body(&self) -> Value {
        let firewalls: Vec<Value> = self
            .firewalls
            .iter()
            .map(|id| json!({ "firewall": id }))
            .collect();
        let mut body = json!({
            "name": self.name,
            "server_type": self.server_type,
            "image": id_or_name(&self.image),
            "location": self.location,
            "ssh_keys": self.ssh_keys.iter().map(|k| id_or_name(k)).collect::<Vec<_>>(),
            "user_data": self.user_data,
            "labels": self.labels,
            "start_after_create": self.start_after_create,
            "firewalls": firewalls,
        });
        if !self.volumes.is_empty() {
            body["volumes"] = json!(self.volumes);
            // Hetzner's automount is hc-utils' udev rule, which breaks when
            // the server is replaced (FIELD-NOTES.md): the release mounts.
            body["automount"] = json!(false);
        }
        body
    }
}

/// The query for `label_selector`; none at all for "" (everything), which
/// the API would refuse as a selector.
pub(super) fn by_labels(label_selector: &str) -> Vec<(&'static str, String)> {
    if label_selector.is_empty() {
        vec![]
    } else {
        vec![("label_selector", label_selector.to_string())]
    }
}

pub(super) fn parse_server(v: &Value, what: &str) -> Result<Server, Failure> {
    serde_json::from_value(v.clone()).map_err(|e| Failure::Protocol {
        request: what.to_string(),
        why: format!("not a server: {e}"),
    })
}

impl Client {
    /// Makes the server and waits for its actions (the create and its
    /// `next_actions`), then returns it as it is now. When the POST's
    /// outcome is unknown, a server of that name with the same labels is
    /// taken for ours instead of making a second.
    pub fn create_server(&self, new: &NewServer) -> Result<Server, Failure> {
        if new.ssh_keys.is_empty() {
            return Err(Failure::Input(format!(
                "creating server {}: no SSH key given; without one Hetzner answers with a root password, which torrust-bake will not hold: name an SSH key of the project",
                new.name
            )));
        }
        let recheck = || {
            let found = self.find("/servers", "servers", &new.name)?;
            Ok(found
                .filter(|s| s.get("labels") == Some(&json!(new.labels)))
                .map(|s| json!({ "server": s, "action": null, "next_actions": [] })))
        };
        let what = "POST /servers";
        let answer = self.post("/servers", &new.body(), &recheck)?;
        let server = parse_server(answer.get("server").unwrap_or(&Value::Null), what)?;
        let actions = of_answer(&answer, what)?;
        self.wait_for(&actions)?;
        if actions.is_empty() {
            // Found by name after a lost answer: its actions are unknown,
            // so wait for what they would have done.
            self.wait_status(
                server.id,
                &["off", "running"],
                self.options().action_timeout,
            )?;
        }
        self.server(server.id)?.ok_or_else(|| Failure::Protocol {
            request: format!("GET /servers/{}", server.id),
            why: "the server just made is gone".into(),
        })
    }

    /// The server `id`; `None` when it does not exist.
    pub fn server(&self, id: u64) -> Result<Option<Server>, Failure> {
        self.item(&format!("/servers/{id}"), "server", parse_server)
    }

    pub fn server_by_name(&self, name: &str) -> Result<Option<Server>, Failure> {
        self.find("/servers", "servers", name)?
            .map(|v| parse_server(&v, "GET /servers"))
            .transpose()
    }

    /// Every server matching `label_selector` (`app=torrust,env=production`).
    pub fn servers(&self, label_selector: &str) -> Result<Vec<Server>, Failure> {
        self.list("/servers", "servers", &by_labels(label_selector))?
            .iter()
            .map(|v| parse_server(v, "GET /servers"))
            .collect()
    }

    /// Asks the OS to shut down (ACPI) and waits for the action; the server
    /// may still be stopping: see `wait_status`.
    pub fn shutdown_server(&self, id: u64) -> Result<(), Failure> {
        self.server_action(id, "shutdown", "off")
    }

    /// Cuts the power.
    pub fn poweroff_server(&self, id: u64) -> Result<(), Failure> {
        self.server_action(id, "poweroff", "off")
    }

    pub fn poweron_server(&self, id: u64) -> Result<(), Failure> {
        self.server_action(id, "poweron", "running")
    }

    fn server_action(&self, id: u64, command: &str, leads_to: &str) -> Result<(), Failure> {
        let done = || Ok(self.server(id)?.is_some_and(|s| s.status == leads_to));
        self.act(
            &format!("/servers/{id}/actions/{command}"),
            &json!({}),
            &done,
        )
    }

    /// Deletes the server and waits until it is gone; `false` when it was
    /// gone already. Its volumes are detached and floating IPs unassigned
    /// by the API, never deleted.
    pub fn delete_server(&self, id: u64) -> Result<bool, Failure> {
        let path = format!("/servers/{id}");
        let answer = match self.delete(&path) {
            Ok(a) => a,
            Err(f) if f.is_not_found() => return Ok(false),
            Err(f) => return Err(f),
        };
        self.wait_for(&of_answer(&answer, &format!("DELETE {path}"))?)?;
        Ok(true)
    }

    /// Polls the server until its status is one of `statuses`, up to `bound`.
    pub fn wait_status(
        &self,
        id: u64,
        statuses: &[&str],
        bound: Duration,
    ) -> Result<Server, Failure> {
        let started = Instant::now();
        let opts = self.options();
        let mut polls = 0;
        loop {
            let server = self.server(id)?.ok_or_else(|| Failure::Protocol {
                request: format!("GET /servers/{id}"),
                why: "the server is gone".into(),
            })?;
            if statuses.contains(&server.status.as_str()) {
                return Ok(server);
            }
            if started.elapsed() >= bound {
                return Err(Failure::ActionTimeout {
                    command: format!("wait for {} ({})", statuses.join(" or "), server.status),
                    id,
                    waited_s: started.elapsed().as_secs(),
                });
            }
            polls += 1;
            std::thread::sleep(poll_delay(opts.poll_base, opts.poll_cap, polls));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_apis_field_names() {
        let new = NewServer {
            name: "torrust-production-abc".into(),
            server_type: "cx22".into(),
            image: "debian-12".into(),
            location: "fsn1".into(),
            ssh_keys: vec!["12".into(), "ops".into()],
            firewalls: vec![7],
            labels: [("app".to_string(), "torrust".to_string())].into(),
            user_data: "#cloud-config\n".into(),
            start_after_create: false,
            volumes: vec![],
        };
        let b = new.body();
        assert_eq!(b["ssh_keys"], json!([12, "ops"]));
        assert_eq!(b["firewalls"], json!([{ "firewall": 7 }]));
        assert!(b.get("volumes").is_none() && b.get("datacenter").is_none());
        assert!(!format!("{new:?}").contains("cloud-config"));
    }
}
