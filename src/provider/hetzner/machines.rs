//! The Hetzner provider's `provider::Machines`: servers labelled
//! `app=torrust,env=<env>,release=<version>` made from the release's
//! user-data, the environment's volume (found by name, made when missing)
//! moved between them, its floating IPs assigned to whichever serves. What
//! a deploy does with these is `crate::deploy`'s, as for libvirt.
//!
//! A server has no console file here (the API offers a VNC console only),
//! so its boot is followed through the boot status every release serves on
//! its own address (`provider::boot_status`). Reads of it are held to one a
//! second per server, and what `state` and `boot_lines` need (the server's
//! id and address) is kept from the answers that named it, so a deploy's
//! waiting costs about one API request every 5 s (`state`, asked by the
//! boot follower) rather than one per poll.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use super::client::{Client, Options};
use super::error::Failure;
use super::placement_groups::Made;
use super::servers::{NewServer, Server};
use super::volumes::{NewVolume, Volume};
use super::FloatingIp;
use super::{labels, selector};
use crate::config::vars::VarId;
use crate::config::{Config, BOOT_STATUS_PORT};
use crate::error::Error;
use crate::provider::{
    boot_status, machine_name, Machine, MachineState, Machines, StepRunner, StopHow, Stopped,
};

/// How long a boot-status read may take: the server is near, or not up.
const STATUS_TIMEOUT: Duration = Duration::from_secs(3);
/// At most one boot-status read a second per server.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// The Hetzner primitives over one API client.
pub struct Hetzner {
    api: Client,
    /// What the answers said of each server by name: its id and IPv4.
    known: Mutex<BTreeMap<String, Known>>,
}

#[derive(Debug, Clone)]
struct Known {
    id: u64,
    ipv4: Option<String>,
    /// When its boot status was last asked for, and what it said (`None`:
    /// it could not be read).
    status: Option<(Instant, Option<String>)>,
    /// The boot its status was last read of (`boot_status::new_lines`).
    boot: String,
}

/// An API failure as the crate's error: its kind gives the exit code (a
/// refused token or a bad name is the user's to fix: 1).
fn api(f: Failure) -> anyhow::Error {
    Error::from(f).into()
}

impl Hetzner {
    /// The client `HCLOUD_TOKEN` and `HCLOUD_ENDPOINT` describe.
    pub fn from_env() -> Result<Hetzner> {
        let api = Client::from_env(|k| std::env::var(k).ok(), Options::default()).map_err(api)?;
        Ok(Hetzner::new(api))
    }

    pub fn new(api: Client) -> Hetzner {
        Hetzner {
            api,
            known: Mutex::new(BTreeMap::new()),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Known>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn learn(&self, s: &Server) {
        let ipv4 = s.public_net.ipv4.as_ref().map(|i| i.ip.clone());
        let mut known = self.known();
        let k = known.entry(s.name.clone()).or_insert(Known {
            id: s.id,
            ipv4: None,
            status: None,
            boot: String::new(),
        });
        if k.id != s.id {
            // Another server of that name: nothing read of the old one holds.
            k.status = None;
            k.boot.clear();
        }
        k.id = s.id;
        k.ipv4 = ipv4;
    }

    /// The server named `name`, asked of the API.
    fn server(&self, name: &str) -> Result<Server> {
        let id = self.known().get(name).map(|k| k.id);
        let found = match id {
            Some(id) => self.api.server(id).map_err(api)?,
            None => self.api.server_by_name(name).map_err(api)?,
        };
        let s = found.ok_or_else(|| Error::not_found(format!("no Hetzner server {name}")))?;
        self.learn(&s);
        Ok(s)
    }

    fn id(&self, name: &str) -> Result<u64> {
        if let Some(k) = self.known().get(name) {
            return Ok(k.id);
        }
        Ok(self.server(name)?.id)
    }

    /// The environment's volume, when it exists; refused when it is
    /// another environment's (two environments in one project would share
    /// the default name `torrust-data`).
    fn volume(&self, config: &Config) -> Result<Option<Volume>> {
        let Some(name) = &config.data_volume else {
            return Ok(None);
        };
        let Some(v) = self.api.volume_by_name(name).map_err(api)? else {
            return Ok(None);
        };
        let env = config.env.as_str();
        let ours = labels(env, None)
            .iter()
            .all(|(k, want)| v.labels.get(k) == Some(want));
        if !ours {
            return Err(Error::invalid(format!(
                "the Hetzner volume {name} (id {}) is not labelled app=torrust,env={env}: it may be another environment's data. If it is {env}'s, label it (hcloud volume add-label {name} app=torrust env={env}); else set INFRASTRUCTURE_DATA_VOLUME to a name of {env}'s own",
                v.id
            ))
            .into());
        }
        Ok(Some(v))
    }

    /// The environment's volume, made (blank, in the server's location)
    /// when missing; says which.
    fn volume_or_create(&self, config: &Config) -> Result<Option<(Volume, String)>> {
        let Some(name) = &config.data_volume else {
            return Ok(None);
        };
        if let Some(v) = self.volume(config)? {
            // A server takes only a volume of its own location: found out
            // at the hand-over, it would cost an outage and a rollback.
            let at = v.location.as_ref().map(|l| l.name.as_str());
            let region = config.region.trim_start_matches('+');
            if at.is_some_and(|at| at != region) {
                return Err(Error::invalid(format!(
                    "the Hetzner volume {name} (id {}) is in {}, and INFRASTRUCTURE_REGION={region}: a server takes only a volume of its own location. Set INFRASTRUCTURE_REGION={} again, or move the data to a volume in {region} (a backup restored there) and name it in INFRASTRUCTURE_DATA_VOLUME",
                    v.id,
                    at.unwrap_or("?"),
                    at.unwrap_or("?")
                ))
                .into());
            }
            let said = format!("found volume {} ({name}, {} GB)", v.id, v.size);
            return Ok(Some((v, said)));
        }
        // Blank: the release formats it on first use with its label
        // (templates/data-volume.sh.tera), and refuses a disk formatted
        // otherwise, as Hetzner's own `format` would.
        let new = NewVolume {
            name: name.clone(),
            size_gb: config.data_volume_size_gb,
            location: config.region.trim_start_matches('+').to_string(),
            labels: labels(config.env.as_str(), None),
            format: None,
        };
        let v = self.api.create_volume(&new).map_err(api)?;
        let said = format!(
            "created volume {} ({name}, {} GB, {}): none was there",
            v.id, v.size, config.region
        );
        Ok(Some((v, said)))
    }

    /// The floating IP of `address`, or what to do when the project has
    /// none (`var` names where the address was set).
    fn floating_ip(&self, config: &Config, var: VarId, address: &str) -> Result<FloatingIp> {
        let found = self.api.floating_ip_by_address(address).map_err(api)?;
        found.ok_or_else(|| {
            Error::invalid(format!(
                "{}={address} is no floating IP of this Hetzner project: make one in {} (hcloud floating-ip create --type {} --home-location {} --name torrust-{}) and set its address, or unset {}",
                var.name(),
                config.region,
                if address.contains(':') { "ipv6" } else { "ipv4" },
                config.region,
                config.env.as_str(),
                var.name()
            ))
            .into()
        })
    }

    /// The floating IPs the environment names, each with its variable.
    fn floating(config: &Config) -> Vec<(VarId, String)> {
        let var = |a: &std::net::IpAddr| match a {
            std::net::IpAddr::V4(_) => VarId::INFRASTRUCTURE_FLOATING_IPV4,
            std::net::IpAddr::V6(_) => VarId::INFRASTRUCTURE_FLOATING_IPV6,
        };
        config
            .floating()
            .iter()
            .map(|a| (var(a), a.to_string()))
            .collect()
    }

    /// The server `version` is made as; a dry run, whose release is not
    /// written, goes without its user-data.
    fn new_server(
        &self,
        config: &Config,
        version: &str,
        release_dir: &Path,
        dry_run: bool,
    ) -> Result<NewServer> {
        let env = config.env.as_str();
        if config.hetzner.ssh_keys.is_empty() {
            return Err(Error::invalid(format!(
                "HETZNER_SSH_KEYS is not set for {env}: without an SSH key Hetzner makes the server a root password, a secret torrust-bake will not hold; name a key of the project (hcloud ssh-key list), e.g. HETZNER_SSH_KEYS=ops"
            ))
            .into());
        }
        // A server's own address is Hetzner's to give, and two servers
        // cannot share one: the hand-over needs each its own (the floating
        // IPs are the address that moves). Refused here, not in `check`:
        // a build's NoCloud seeds may carry one for a local VM.
        if let Some(a) = config.ipv4_address {
            return Err(Error::invalid(format!(
                "INFRASTRUCTURE_IPV4_ADDRESS={a} is set for {env}: a Hetzner server gets its own address from Hetzner; unset it for deploys (the address that moves from server to server is INFRASTRUCTURE_FLOATING_IPV4)"
            ))
            .into());
        }
        if config.hetzner.firewalls.is_empty() {
            return Err(Error::invalid(format!(
                "HETZNER_FIREWALLS is not set for {env}: a server is made only behind a firewall, since its release serves its boot status on TCP {BOOT_STATUS_PORT} to whoever can reach it; name one (hcloud firewall list) that opens the tracker's ports to all and {BOOT_STATUS_PORT} to this machine only, e.g. HETZNER_FIREWALLS=torrust"
            ))
            .into());
        }
        let path = release_dir.join("user-data");
        let user_data = match std::fs::read_to_string(&path) {
            Err(e) if dry_run && e.kind() == std::io::ErrorKind::NotFound => String::new(),
            read => read.with_context(|| format!("reading {}", path.display()))?,
        };
        Ok(NewServer {
            name: machine_name(env, version),
            server_type: config.instance_type.clone(),
            image: config.image.clone(),
            location: config.region.trim_start_matches('+').to_string(),
            ssh_keys: config.hetzner.ssh_keys.clone(),
            firewalls: Vec::new(),
            labels: labels(env, Some(version)),
            user_data,
            start_after_create: false,
            volumes: Vec::new(),
        })
    }
}

/// A server of ours as a machine; of the volumes it holds, the data volume
/// is one of `ours` (labelled with its environment: an operator may have
/// attached another by hand, which `destroy --purge` must not take).
fn machine(s: &Server, ours: &[u64], description: String) -> Machine {
    Machine {
        name: s.name.clone(),
        release: s.labels.get("release").cloned().unwrap_or_default(),
        kind: s
            .server_type
            .as_ref()
            .map_or_else(|| "server".to_string(), |t| t.name.clone()),
        description,
        console_log: None,
        data_disk: s
            .volumes
            .iter()
            .find(|id| ours.contains(id))
            .map(|id| format!("volume {id}")),
        dir: None,
    }
}

fn describe(s: &Server) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "id": s.id,
        "name": s.name,
        "status": s.status,
        "addresses": s.addresses(),
        "location": s.location.as_ref().map(|l| &l.name),
        "server_type": s.server_type.as_ref().map(|t| &t.name),
        "labels": s.labels,
        "volumes": s.volumes,
    }))
    .unwrap_or_default()
}

/// The calls a create would make, for `--dry-run` (which makes none).
fn dry_run_calls(config: &Config, new: &NewServer, with_data: bool) -> String {
    let mut calls = Vec::new();
    if let Some(v) = &config.data_volume {
        calls.push(format!(
            "GET /volumes?name={v}  (then POST /volumes {{name: {v}, size: {}, location: {}}} if missing)",
            config.data_volume_size_gb, new.location
        ));
    }
    if !Hetzner::floating(config).is_empty() {
        calls.push("GET /floating_ips  (each configured address must be one)".into());
    }
    for f in &config.hetzner.firewalls {
        calls.push(format!("GET /firewalls?name={f}"));
    }
    calls.push(format!("GET /servers?name={}", new.name));
    let vols = if with_data && config.data_volume.is_some() {
        ", volumes: [<data volume>], automount: false"
    } else {
        ""
    };
    calls.push(format!(
        "POST /servers {{name: {}, server_type: {}, image: {}, location: {}, ssh_keys: {:?}, labels: {}, user_data: <{}>, start_after_create: false{vols}}}",
        new.name,
        new.server_type,
        new.image,
        new.location,
        new.ssh_keys,
        selector(&new.labels),
        if new.user_data.is_empty() {
            "the release's user-data, as `build` writes it".to_string()
        } else {
            format!("{} bytes", new.user_data.len())
        }
    ));
    calls.push("GET /actions/<id>  (until the create's actions end)".into());
    calls.join("\n")
}

impl Machines for Hetzner {
    fn provider(&self) -> &'static str {
        "hetzner"
    }

    fn list(&self, env: &str) -> Result<Vec<Machine>> {
        let ours = selector(&labels(env, None));
        let servers = self.api.servers(&ours).map_err(api)?;
        let volumes: Vec<u64> = if servers.iter().any(|s| !s.volumes.is_empty()) {
            self.api
                .volumes(&ours)
                .map_err(api)?
                .iter()
                .map(|v| v.id)
                .collect()
        } else {
            Vec::new()
        };
        Ok(servers
            .iter()
            .filter(|s| s.status != "deleting")
            .map(|s| {
                self.learn(s);
                machine(s, &volumes, describe(s))
            })
            .collect())
    }

    fn create(
        &self,
        config: &Config,
        version: &str,
        release_dir: &Path,
        with_data: bool,
        dry_run: bool,
        step: &mut StepRunner,
    ) -> Result<Machine> {
        let mut new = self.new_server(config, version, release_dir, dry_run)?;
        if dry_run {
            return Ok(Machine {
                name: new.name.clone(),
                release: version.to_string(),
                kind: new.server_type.clone(),
                description: dry_run_calls(config, &new, with_data),
                console_log: None,
                data_disk: None,
                dir: None,
            });
        }
        // A rerun finds what an earlier run made.
        if let Some(s) = self.api.server_by_name(&new.name).map_err(api)? {
            if s.labels == new.labels {
                self.learn(&s);
                let ids: Vec<u64> = self.volume(config)?.iter().map(|v| v.id).collect();
                step("server", &mut || {
                    Ok(format!(
                        "found server {} ({}): made by an earlier run",
                        s.id, s.name
                    ))
                })?;
                return Ok(machine(&s, &ids, describe(&s)));
            }
            return Err(Error::invalid(format!(
                "a Hetzner server named {} exists without torrust-bake's labels ({}): rename or delete it (hcloud server delete {})",
                new.name,
                selector(&new.labels),
                new.name
            ))
            .into());
        }
        // The addresses exist before anything is made for them.
        let wanted = Hetzner::floating(config);
        if !wanted.is_empty() {
            step("floating IPs", &mut || {
                let found = wanted
                    .iter()
                    .map(|(var, a)| {
                        let f = self.floating_ip(config, *var, a)?;
                        Ok(format!("{a} (floating IP {})", f.id))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(found.join(", "))
            })?;
        }
        let mut volume = None;
        step("volume", &mut || match self.volume_or_create(config)? {
            Some((v, said)) => {
                volume = Some(v);
                Ok(said)
            }
            None => Ok("no data volume (INFRASTRUCTURE_DATA_VOLUME unset)".into()),
        })?;
        if with_data {
            new.volumes = volume.iter().map(|v| v.id).collect();
        }
        let firewalls = &config.hetzner.firewalls;
        if !firewalls.is_empty() {
            step("firewalls", &mut || {
                new.firewalls = firewalls
                    .iter()
                    .map(|f| self.api.firewall_id(f))
                    .collect::<Result<_, _>>()
                    .map_err(api)?;
                Ok(format!("{} ({:?})", firewalls.join(", "), new.firewalls))
            })?;
        }
        let mut made = None;
        step("create server", &mut || {
            let s = self.api.create_server(&new).map_err(api)?;
            let said = format!(
                "server {} ({}, {}, {}) made, off{}",
                s.id,
                s.name,
                new.server_type,
                new.location,
                if new.volumes.is_empty() {
                    ""
                } else {
                    ", with the data volume"
                }
            );
            made = Some(s);
            Ok(said)
        })?;
        let s = made.context("the create step made no server")?;
        self.learn(&s);
        let ids: Vec<u64> = volume.iter().map(|v| v.id).collect();
        Ok(machine(&s, &ids, describe(&s)))
    }

    fn attach_data(&self, config: &Config, m: &Machine) -> Result<String> {
        let Some(v) = self.volume(config)? else {
            let Some(name) = &config.data_volume else {
                return Ok("no data volume (INFRASTRUCTURE_DATA_VOLUME unset)".into());
            };
            return Err(Error::not_found(format!(
                "the Hetzner volume {name} (INFRASTRUCTURE_DATA_VOLUME) is gone: the data it held cannot be given to {}",
                m.name
            ))
            .into());
        };
        let id = self.id(&m.name)?;
        self.api.attach_volume(v.id, id).map_err(api)?;
        Ok(format!(
            "volume {} ({}) attached to {}",
            v.id, v.name, m.name
        ))
    }

    fn detach_data(&self, config: &Config, m: &Machine) -> Result<String> {
        let Some(v) = self.volume(config)? else {
            return Ok("no data volume".into());
        };
        let id = self.id(&m.name)?;
        if v.server != Some(id) {
            return Ok(format!("volume {} was not on {}", v.id, m.name));
        }
        let state = self.state(&m.name)?;
        if state.words != "off" {
            return Err(Error::invalid(format!(
                "{} is {}: its data volume is taken only from a server that is off",
                m.name, state.words
            ))
            .into());
        }
        self.api.detach_volume(v.id).map_err(api)?;
        Ok(format!(
            "volume {} ({}) detached from {}",
            v.id, v.name, m.name
        ))
    }

    fn point(&self, config: &Config, m: &Machine) -> Result<Option<String>> {
        let wanted = Hetzner::floating(config);
        if wanted.is_empty() {
            return Ok(None);
        }
        let id = self.id(&m.name)?;
        let mut said = Vec::new();
        for (var, address) in wanted {
            let f = self.floating_ip(config, var, &address)?;
            self.api.assign_floating_ip(f.id, id).map_err(api)?;
            said.push(format!("{address} -> {}", m.name));
        }
        Ok(Some(said.join(", ")))
    }

    fn pointed(&self, config: &Config) -> Option<String> {
        let said: Vec<String> = Hetzner::floating(config)
            .into_iter()
            .filter_map(|(_, address)| {
                let f = self.api.floating_ip_by_address(&address).ok()??;
                let server = f.server?;
                let name = self
                    .api
                    .server(server)
                    .ok()
                    .flatten()
                    .map_or_else(|| format!("server {server}"), |s| s.name);
                Some(format!("{address} -> {name}"))
            })
            .collect();
        (!said.is_empty()).then(|| said.join(", "))
    }

    fn start(&self, name: &str) -> Result<()> {
        let id = self.id(name)?;
        self.api.poweron_server(id).map_err(api)
    }

    fn state(&self, name: &str) -> Result<MachineState> {
        let s = self.server(name)?;
        Ok(MachineState {
            // A live migration moves a running server: it still runs.
            running: matches!(s.status.as_str(), "running" | "migrating"),
            words: s.status,
        })
    }

    fn stop(&self, name: &str, bound: Duration) -> Result<Stopped> {
        let s = match self.server(name) {
            Ok(s) => s,
            Err(e) if e.downcast_ref::<Error>().is_some_and(Error::is_not_found) => {
                return Ok((StopHow::Off, format!("{name} was gone")))
            }
            Err(e) => return Err(e),
        };
        if s.status == "off" {
            return Ok((StopHow::Off, format!("{name} was off")));
        }
        if !bound.is_zero() {
            let t = Instant::now();
            self.api.shutdown_server(s.id).map_err(api)?;
            match self.api.wait_status(s.id, &["off"], bound) {
                Ok(_) => {
                    return Ok((
                        StopHow::Acpi,
                        format!("{name} shut down in {:.1} s", t.elapsed().as_secs_f64()),
                    ))
                }
                Err(Failure::ActionTimeout { .. }) => {}
                Err(f) => return Err(api(f)),
            }
        }
        self.api.poweroff_server(s.id).map_err(api)?;
        let how = if bound.is_zero() {
            format!("{name} powered off")
        } else {
            format!(
                "{name} did not shut down within {} s: powered off",
                bound.as_secs()
            )
        };
        Ok((StopHow::Destroyed, how))
    }

    fn retire(&self, m: &Machine) -> Result<String> {
        let id = match self.id(&m.name) {
            Ok(id) => id,
            Err(e) if e.downcast_ref::<Error>().is_some_and(Error::is_not_found) => {
                return Ok(format!("{} was gone", m.name))
            }
            Err(e) => return Err(e),
        };
        let deleted = self.api.delete_server(id).map_err(api)?;
        self.known().remove(&m.name);
        Ok(if deleted {
            format!("server {id} deleted (its volume and floating IPs kept)")
        } else {
            format!("server {id} was gone")
        })
    }

    fn boot_lines(&self, m: &Machine, cursor: &mut u64) -> Vec<String> {
        let Some(text) = self.status_text(&m.name) else {
            return Vec::new();
        };
        let mut known = self.known();
        let Some(k) = known.get_mut(&m.name) else {
            return Vec::new();
        };
        boot_status::new_lines(&text, &mut k.boot, cursor)
    }

    fn recent_lines(&self, m: &Machine) -> Vec<String> {
        self.status_text(&m.name)
            .map(|t| boot_status::last_lines(&t, 64))
            .unwrap_or_default()
    }

    fn addresses(&self, name: &str) -> Vec<String> {
        self.server(name).map(|s| s.addresses()).unwrap_or_default()
    }

    fn data_volume(&self, config: &Config) -> Result<Option<String>> {
        Ok(self.volume(config)?.map(|v| format!("volume {}", v.id)))
    }

    fn delete_data_volume(&self, volume: &str) -> Result<()> {
        let id = volume
            .strip_prefix("volume ")
            .and_then(|i| i.parse::<u64>().ok())
            .with_context(|| format!("{volume:?} names no Hetzner volume"))?;
        self.api.delete_volume(id).map_err(api)?;
        Ok(())
    }

    fn lock(&self, env: &str) -> Result<Option<String>> {
        let name = lock_name(env);
        let mut ours = labels(env, None);
        let host = this_host();
        ours.insert("holder".into(), host.clone());
        for _ in 0..2 {
            match self.api.create_placement_group(&name, &ours).map_err(api)? {
                Made::Made(g) => return Ok(Some(format!("placement group {}", g.id))),
                Made::Taken(Some(g)) if g.labels.get("holder") == Some(&host) => {
                    // This machine's, left by a run that was killed: this
                    // one holds the local lock, so that run is over.
                    self.api.delete_placement_group(g.id).map_err(api)?;
                }
                // Gone between the create and the look-up: try again.
                Made::Taken(None) => {}
                Made::Taken(Some(g)) => {
                    let holder = g.labels.get("holder").map_or("?", String::as_str);
                    return Err(Error::invalid(format!(
                        "another deploy, rollback or destroy of {env} is running from {holder} (it holds the Hetzner placement group {name}, made {}); wait for it to finish. If none runs (it was killed), delete the lock: hcloud placement-group delete {name}",
                        g.created
                    ))
                    .into());
                }
            }
        }
        Err(Error::invalid(format!(
            "the deploy lock {name} of {env} changed hands twice while it was taken; run the command again"
        ))
        .into())
    }

    fn unlock(&self, _env: &str, held: &str) -> Result<()> {
        let id = held
            .strip_prefix("placement group ")
            .and_then(|i| i.parse::<u64>().ok())
            .with_context(|| format!("{held:?} names no Hetzner placement group"))?;
        self.api.delete_placement_group(id).map_err(api)?;
        Ok(())
    }
}

/// The name of the deploy lock of `env` on Hetzner's side.
fn lock_name(env: &str) -> String {
    format!("torrust-bake-lock-{env}")
}

/// This machine's name as a label value (at most 63 of `[A-Za-z0-9._-]`,
/// alphanumeric at both ends), to tell a lock it left from another's.
fn this_host() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let clean = clean.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if clean.is_empty() {
        "unknown-host".to_string()
    } else {
        clean.to_string()
    }
}

impl Hetzner {
    /// The server's boot status, asked for at most once a second (between
    /// reads, the last answer, or the last failure); `None` while it
    /// cannot be read.
    fn status_text(&self, name: &str) -> Option<String> {
        let (ipv4, last) = {
            let known = self.known();
            let k = known.get(name)?;
            (k.ipv4.clone()?, k.status.clone())
        };
        if let Some((at, text)) = last {
            if at.elapsed() < STATUS_EVERY {
                return text;
            }
        }
        let text = boot_status::fetch(&ipv4, STATUS_TIMEOUT).ok();
        if let Some(k) = self.known().get_mut(name) {
            k.status = Some((Instant::now(), text.clone()));
        }
        text
    }
}
