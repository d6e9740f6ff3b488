//! Placement groups, used for one thing: the deploy lock on Hetzner's side.
//! The local lock (`releases/<env>/deploy.lock`) stops a second deploy on
//! this machine only; two operators deploying one environment from two
//! machines would each start a standby and move the one volume. The API
//! has no compare-and-swap on labels, but a name is unique per project and
//! a create of a taken one fails with `uniqueness_error` (409): creating
//! `torrust-bake-lock-<env>` is an atomic test-and-set, deleting it the
//! release. A placement group costs nothing, holds no server here and
//! changes no traffic (a firewall with no rules, the other free named
//! resource, would block everything if someone applied it).
//!
//! Shapes from hcloud-go `hcloud/schema/placement_group.go`: `{id, name,
//! labels, created, servers, type}`; create `POST /placement_groups {name,
//! type: spread, labels}` answers `{placement_group, action: null}`; delete
//! answers 204.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::client::Client;
use super::error::Failure;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PlacementGroup {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub created: String,
}

fn parse(v: &Value, what: &str) -> Result<PlacementGroup, Failure> {
    serde_json::from_value(v.clone()).map_err(|e| Failure::Protocol {
        request: what.to_string(),
        why: format!("not a placement group: {e}"),
    })
}

/// How a create of a named placement group ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// Made now (or, the answer lost, found with our labels).
    Made(PlacementGroup),
    /// The name was taken: what holds it.
    Taken(Option<PlacementGroup>),
}

impl Client {
    pub fn placement_group_by_name(&self, name: &str) -> Result<Option<PlacementGroup>, Failure> {
        self.find("/placement_groups", "placement_groups", name)?
            .map(|v| parse(&v, "GET /placement_groups"))
            .transpose()
    }

    /// Makes the placement group `name` with `labels`, unless the name is
    /// taken. When the POST's outcome is unknown, one of that name with the
    /// same labels is taken for ours.
    pub fn create_placement_group(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Made, Failure> {
        let body = json!({ "name": name, "type": "spread", "labels": labels });
        let recheck = || {
            let found = self.find("/placement_groups", "placement_groups", name)?;
            Ok(found
                .filter(|g| g.get("labels") == Some(&json!(labels)))
                .map(|g| json!({ "placement_group": g, "action": null })))
        };
        let what = "POST /placement_groups";
        match self.post("/placement_groups", &body, &recheck) {
            Ok(answer) => Ok(Made::Made(parse(
                answer.get("placement_group").unwrap_or(&Value::Null),
                what,
            )?)),
            Err(f) if f.code() == Some("uniqueness_error") => {
                Ok(Made::Taken(self.placement_group_by_name(name)?))
            }
            Err(f) => Err(f),
        }
    }

    /// Deletes the placement group; `false` when it was gone already.
    pub fn delete_placement_group(&self, id: u64) -> Result<bool, Failure> {
        match self.delete(&format!("/placement_groups/{id}")) {
            Ok(_) => Ok(true),
            Err(f) if f.is_not_found() => Ok(false),
            Err(f) => Err(f),
        }
    }
}
