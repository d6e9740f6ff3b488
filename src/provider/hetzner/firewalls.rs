//! Firewalls, only looked up: a server is created with `firewalls:
//! [{firewall: <id>}]` (ids only, hcloud-go `schema.ServerCreateFirewalls`),
//! while HETZNER_FIREWALLS may name them. SSH keys need no lookup: the
//! create takes names or ids.

use serde_json::Value;

use super::client::Client;
use super::error::Failure;

impl Client {
    /// The id of the firewall `name_or_id` (a number is taken as an id and
    /// checked to exist).
    pub fn firewall_id(&self, name_or_id: &str) -> Result<u64, Failure> {
        let missing = || {
            Failure::Input(format!(
                "HETZNER_FIREWALLS names {name_or_id:?}, which is no firewall of this Hetzner project: create it (hcloud firewall create --name {name_or_id}) or fix the name"
            ))
        };
        if let Ok(id) = name_or_id.parse::<u64>() {
            return match self.get(&format!("/firewalls/{id}"), &[]) {
                Ok(_) => Ok(id),
                Err(f) if f.is_not_found() => Err(missing()),
                Err(f) => Err(f),
            };
        }
        self.find("/firewalls", "firewalls", name_or_id)?
            .and_then(|v| v.get("id").and_then(Value::as_u64))
            .ok_or_else(missing)
    }
}
