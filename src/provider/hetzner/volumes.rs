//! Volumes: create, get, find by name or label, attach, detach.
//!
//! Shapes from hcloud-go `hcloud/schema/volume.go`: a volume is `{id, name,
//! server (id or null), status, location {name}, size, format,
//! linux_device, labels, protection, created}`; `VolumeCreateRequest` is
//! `{name, size, server, location, labels, automount, format}`, answered
//! `{volume, action, next_actions}`; attach is `POST
//! /volumes/{id}/actions/attach {server, automount}`, detach `POST
//! /volumes/{id}/actions/detach {}`. A volume is attached to one server at
//! a time, in its own location only (`volume_already_attached` otherwise);
//! in the server it is `/dev/disk/by-id/scsi-0HC_Volume_<id>`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::actions::of_answer;
use super::client::Client;
use super::error::Failure;
use super::servers::{by_labels, Named};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Volume {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub server: Option<u64>,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub linux_device: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub location: Option<Named>,
}

impl Volume {
    /// Where the release finds it in the server.
    pub fn device_path(&self) -> String {
        format!("/dev/disk/by-id/scsi-0HC_Volume_{}", self.id)
    }
}

/// What `POST /volumes` is asked to make: never automounted (the release
/// mounts it by its by-id path), formatted at creation when `format` is set.
#[derive(Debug, Clone, Default)]
pub struct NewVolume {
    pub name: String,
    pub size_gb: u64,
    pub location: String,
    pub labels: BTreeMap<String, String>,
    /// `ext4` or `xfs`, or none to leave the disk blank.
    pub format: Option<String>,
}

fn parse_volume(v: &Value, what: &str) -> Result<Volume, Failure> {
    serde_json::from_value(v.clone()).map_err(|e| Failure::Protocol {
        request: what.to_string(),
        why: format!("not a volume: {e}"),
    })
}

impl Client {
    /// Makes the volume (attached to no server) and waits for it. When the
    /// POST's outcome is unknown, a volume of that name with the same labels
    /// is taken for ours instead of making a second.
    pub fn create_volume(&self, new: &NewVolume) -> Result<Volume, Failure> {
        let mut body = json!({
            "name": new.name,
            "size": new.size_gb,
            "location": new.location,
            "labels": new.labels,
            "automount": false,
        });
        if let Some(f) = &new.format {
            body["format"] = json!(f);
        }
        let recheck = || {
            let found = self.find("/volumes", "volumes", &new.name)?;
            Ok(found
                .filter(|v| v.get("labels") == Some(&json!(new.labels)))
                .map(|v| json!({ "volume": v, "action": null, "next_actions": [] })))
        };
        let what = "POST /volumes";
        let answer = self.post("/volumes", &body, &recheck)?;
        let volume = parse_volume(answer.get("volume").unwrap_or(&Value::Null), what)?;
        self.wait_for(&of_answer(&answer, what)?)?;
        self.volume(volume.id)?.ok_or_else(|| Failure::Protocol {
            request: format!("GET /volumes/{}", volume.id),
            why: "the volume just made is gone".into(),
        })
    }

    /// The volume `id`; `None` when it does not exist.
    pub fn volume(&self, id: u64) -> Result<Option<Volume>, Failure> {
        self.item(&format!("/volumes/{id}"), "volume", parse_volume)
    }

    pub fn volume_by_name(&self, name: &str) -> Result<Option<Volume>, Failure> {
        self.find("/volumes", "volumes", name)?
            .map(|v| parse_volume(&v, "GET /volumes"))
            .transpose()
    }

    /// Every volume matching `label_selector` (all with "").
    pub fn volumes(&self, label_selector: &str) -> Result<Vec<Volume>, Failure> {
        self.list("/volumes", "volumes", &by_labels(label_selector))?
            .iter()
            .map(|v| parse_volume(v, "GET /volumes"))
            .collect()
    }

    /// Attaches the volume to `server` (running or not: hot-attach works)
    /// and waits for it; done already when it is attached there.
    pub fn attach_volume(&self, id: u64, server: u64) -> Result<(), Failure> {
        let done = || Ok(self.volume(id)?.is_some_and(|v| v.server == Some(server)));
        if done()? {
            return Ok(());
        }
        self.act(
            &format!("/volumes/{id}/actions/attach"),
            &json!({ "server": server, "automount": false }),
            &done,
        )
    }

    /// Detaches the volume from whatever server holds it and waits; done
    /// already when it is attached nowhere.
    pub fn detach_volume(&self, id: u64) -> Result<(), Failure> {
        let done = || Ok(self.volume(id)?.is_some_and(|v| v.server.is_none()));
        if done()? {
            return Ok(());
        }
        self.act(&format!("/volumes/{id}/actions/detach"), &json!({}), &done)
    }

    /// Deletes the volume (detaching it first: the API refuses an attached
    /// one) and what it holds; `false` when it was gone already. The API
    /// answers 204 with no action: the volume is gone when it returns.
    pub fn delete_volume(&self, id: u64) -> Result<bool, Failure> {
        if self.volume(id)?.is_none() {
            return Ok(false);
        }
        self.detach_volume(id)?;
        match self.delete(&format!("/volumes/{id}")) {
            Ok(_) => Ok(true),
            Err(f) if f.is_not_found() => Ok(false),
            Err(f) => Err(f),
        }
    }
}
