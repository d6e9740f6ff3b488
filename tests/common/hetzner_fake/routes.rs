//! The fake's endpoints: what each request does to the world and answers,
//! in the shapes of hcloud-go's `hcloud/schema/{server,volume,floating_ip,
//! action,meta,error}.go`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{error, timestamp, Effect, World};

type Answer = (u16, Value);

pub(crate) fn server_json(
    id: u64,
    name: &str,
    server_type: &str,
    image: &str,
    location: &str,
    labels: Value,
    status: &str,
) -> Value {
    json!({
        "id": id,
        "name": name,
        "status": status,
        "created": timestamp(),
        "public_net": {
            "ipv4": { "id": id + 100000, "ip": format!("127.0.{}.{}", 1 + id / 250 % 250, 1 + id % 250), "blocked": false, "dns_ptr": "static.example" },
            "ipv6": { "id": id + 200000, "ip": format!("2001:db8:{id:x}::/64"), "blocked": false, "dns_ptr": [] },
            "floating_ips": [],
            "firewalls": [],
        },
        "private_net": [],
        "server_type": { "name": server_type },
        "location": { "name": location },
        "image": { "name": image },
        "labels": labels,
        "volumes": [],
        "locked": false,
        "protection": { "delete": false, "rebuild": false },
        "primary_disk_size": 40,
        "included_traffic": 21990232555520u64,
        "load_balancers": [],
        "placement_group": null,
        "iso": null,
        "rescue_enabled": false,
        "backup_window": null,
    })
}

pub(crate) fn volume_json(id: u64, name: &str, size: u64, location: &str, labels: Value) -> Value {
    json!({
        "id": id, "name": name, "server": null, "status": "available",
        "location": { "name": location }, "size": size, "format": null,
        "protection": { "delete": false }, "labels": labels,
        "linux_device": format!("/dev/disk/by-id/scsi-0HC_Volume_{id}"),
        "created": timestamp(),
    })
}

fn not_found(what: &str) -> Answer {
    error(404, "not_found", &format!("{what} not found"), json!({}))
}

fn invalid(fields: &[(&str, &str)]) -> Answer {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(n, m)| json!({ "name": n, "messages": [m] }))
        .collect();
    error(
        400,
        "invalid_input",
        "invalid input in fields",
        json!({ "fields": fields }),
    )
}

fn locked() -> Answer {
    error(
        423,
        "locked",
        "resource is locked by another action",
        json!({}),
    )
}

/// One request's effect and answer.
pub(crate) fn route(
    w: &mut World,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: &Value,
) -> Answer {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let id = |i: usize| parts.get(i).and_then(|p| p.parse::<u64>().ok());
    match (method, parts.as_slice()) {
        ("GET", ["servers"]) => list(w.servers.values(), "servers", query),
        ("POST", ["servers"]) => create_server(w, body),
        ("GET", ["servers", _]) => match id(1).and_then(|i| w.servers.get(&i)) {
            Some(s) => (200, json!({ "server": s })),
            None => not_found("server"),
        },
        ("DELETE", ["servers", _]) => delete_server(w, id(1)),
        ("POST", ["servers", _, "actions", command]) => server_action(w, id(1), command),
        ("GET", ["actions"]) => {
            let ids: Vec<u64> = query
                .iter()
                .filter(|(k, _)| k == "id")
                .filter_map(|(_, v)| v.parse().ok())
                .collect();
            if ids.is_empty() {
                // Listing every action was removed on 2025-01-30 (hcloud-go).
                return invalid(&[("id", "at least one id is required")]);
            }
            let found: Vec<&Value> = ids
                .iter()
                .filter_map(|i| w.actions.get(i).map(|a| &a.json))
                .collect();
            list(found.into_iter(), "actions", query)
        }
        ("GET", ["actions", _]) => match id(1).and_then(|i| w.actions.get(&i)) {
            Some(a) => (200, json!({ "action": a.json })),
            None => not_found("action"),
        },
        ("GET", ["volumes"]) => list(w.volumes.values(), "volumes", query),
        ("POST", ["volumes"]) => create_volume(w, body),
        ("GET", ["volumes", _]) => match id(1).and_then(|i| w.volumes.get(&i)) {
            Some(v) => (200, json!({ "volume": v })),
            None => not_found("volume"),
        },
        ("POST", ["volumes", _, "actions", command]) => volume_action(w, id(1), command, body),
        ("DELETE", ["volumes", _]) => delete_volume(w, id(1)),
        ("GET", ["placement_groups"]) => {
            list(w.placement_groups.values(), "placement_groups", query)
        }
        ("POST", ["placement_groups"]) => create_placement_group(w, body),
        ("DELETE", ["placement_groups", _]) => {
            match id(1).and_then(|i| w.placement_groups.remove(&i)) {
                Some(_) => (204, Value::Null),
                None => not_found("placement_group"),
            }
        }
        ("GET", ["firewalls"]) => list(w.firewalls.values(), "firewalls", query),
        ("GET", ["firewalls", _]) => match id(1).and_then(|i| w.firewalls.get(&i)) {
            Some(f) => (200, json!({ "firewall": f })),
            None => not_found("firewall"),
        },
        ("GET", ["floating_ips"]) => list(w.floating_ips.values(), "floating_ips", query),
        ("GET", ["floating_ips", _]) => match id(1).and_then(|i| w.floating_ips.get(&i)) {
            Some(f) => (200, json!({ "floating_ip": f })),
            None => not_found("floating_ip"),
        },
        ("POST", ["floating_ips", _, "actions", command]) => ip_action(w, id(1), command, body),
        _ => not_found("route"),
    }
}

/// A page of the items matching `name` and `label_selector`.
fn list<'a>(
    items: impl Iterator<Item = &'a Value>,
    key: &str,
    query: &[(String, String)],
) -> Answer {
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let selector = match q("label_selector").map(parse_selector).transpose() {
        Ok(s) => s.unwrap_or_default(),
        Err(why) => return invalid(&[("label_selector", &why)]),
    };
    let page: u64 = q("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let per_page: u64 = q("per_page").and_then(|p| p.parse().ok()).unwrap_or(25);
    if per_page == 0 || per_page > 50 {
        return invalid(&[("per_page", "must be between 1 and 50")]);
    }
    let matching: Vec<&Value> = items
        .filter(|v| q("name").is_none_or(|n| v["name"] == n))
        .filter(|v| selector.iter().all(|t| t.matches(&v["labels"])))
        .collect();
    let total = matching.len() as u64;
    let last = total.div_ceil(per_page).max(1);
    let shown: Vec<&Value> = matching
        .into_iter()
        .skip(((page - 1) * per_page) as usize)
        .take(per_page as usize)
        .collect();
    let some = |p: u64| {
        if p >= 1 && p <= last {
            json!(p)
        } else {
            Value::Null
        }
    };
    (
        200,
        json!({
            key: shown,
            "meta": { "pagination": {
                "page": page, "per_page": per_page,
                "previous_page": if page > 1 { some(page - 1) } else { Value::Null },
                "next_page": if page < last { some(page + 1) } else { Value::Null },
                "last_page": last, "total_entries": total,
            }},
        }),
    )
}

enum Term {
    Eq(String, String),
    Ne(String, String),
    Has(String),
    Lacks(String),
}

impl Term {
    fn matches(&self, labels: &Value) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        match self {
            Term::Eq(k, v) => get(k) == Some(v),
            Term::Ne(k, v) => get(k) != Some(v),
            Term::Has(k) => get(k).is_some(),
            Term::Lacks(k) => get(k).is_none(),
        }
    }
}

/// The API's label selector, in the forms torrust-bake uses and a few
/// more; set-based ones (`in`, `notin`) are refused here.
fn parse_selector(s: &str) -> Result<Vec<Term>, String> {
    let ok = |k: &str| {
        !k.is_empty()
            && k.len() <= 63
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    };
    let pair = |k: &str, v: &str| ok(k) && (v.is_empty() || ok(v));
    s.split(',')
        .map(|t| {
            let t = t.trim();
            let term = if let Some((k, v)) = t.split_once("!=") {
                pair(k, v).then(|| Term::Ne(k.into(), v.into()))
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                pair(k, v).then(|| Term::Eq(k.into(), v.into()))
            } else if let Some(k) = t.strip_prefix('!') {
                ok(k).then(|| Term::Lacks(k.into()))
            } else {
                ok(t).then(|| Term::Has(t.into()))
            };
            term.ok_or_else(|| format!("invalid term {t:?}"))
        })
        .collect()
}

fn valid_label(k: &str, v: &str) -> bool {
    let part = |s: &str, empty_ok: bool| {
        (empty_ok && s.is_empty())
            || (s.len() <= 63
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric()))
    };
    part(k, false) && part(v, true)
}

fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn check_labels(labels: &Value) -> Option<Answer> {
    let map = labels.as_object()?;
    map.iter()
        .find(|(k, v)| !valid_label(k, v.as_str().unwrap_or("\u{0}")))
        .map(|(k, _)| invalid(&[("labels", &format!("label {k:?} or its value is invalid (at most 63 characters: letters, digits, - _ .)"))]))
}

fn create_server(w: &mut World, body: &Value) -> Answer {
    let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
    let mut wrong: Vec<(&str, &str)> = Vec::new();
    if !valid_hostname(s("name")) {
        wrong.push(("name", "must be a valid hostname"));
    }
    if s("server_type").is_empty() {
        wrong.push(("server_type", "is required"));
    }
    if body.get("image").is_none_or(Value::is_null) {
        wrong.push(("image", "is required"));
    }
    if body.get("datacenter").is_some() {
        wrong.push(("datacenter", "is no longer supported, use location"));
    }
    if s("user_data").len() > 32 * 1024 {
        wrong.push(("user_data", "must be at most 32768 bytes"));
    }
    if !wrong.is_empty() {
        return invalid(&wrong);
    }
    let labels = body.get("labels").cloned().unwrap_or(json!({}));
    if let Some(bad) = check_labels(&labels) {
        return bad;
    }
    if w.servers.values().any(|x| x["name"] == s("name")) {
        return error(
            409,
            "uniqueness_error",
            "server name is already used",
            json!({ "fields": [{"name": "name", "messages": ["is already used"]}] }),
        );
    }
    let volumes: Vec<u64> = body["volumes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    for v in &volumes {
        match w.volumes.get(v) {
            None => return invalid(&[("volumes", "volume not found")]),
            Some(vol) if !vol["server"].is_null() => {
                return error(
                    422,
                    "volume_already_attached",
                    "volume is already attached to a server",
                    json!({}),
                )
            }
            _ => {}
        }
    }
    let id = w.id();
    let image = match &body["image"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let location = if s("location").is_empty() {
        "fsn1"
    } else {
        s("location")
    };
    let mut server = server_json(
        id,
        s("name"),
        s("server_type"),
        &image,
        location,
        labels,
        "initializing",
    );
    if let Some(fw) = body["firewalls"].as_array() {
        server["public_net"]["firewalls"] = json!(fw
            .iter()
            .map(|f| json!({ "id": f["firewall"], "status": "applied" }))
            .collect::<Vec<_>>());
    }
    if w.serve_status {
        if let Some(world) = w.me.upgrade() {
            server["public_net"]["ipv4"]["ip"] = json!(super::boot::listen(&world, id));
        }
    }
    w.servers.insert(id, server.clone());
    w.user_data.insert(id, s("user_data").to_string());
    let d = w.action_duration;
    let action = w.start(
        "create_server",
        &[("server", id)],
        Effect::Status(id, "off"),
        d,
    );
    let mut next = Vec::new();
    // The API starts a server after creating it unless asked not to.
    if body["start_after_create"].as_bool() != Some(false) {
        next.push(w.start(
            "start_server",
            &[("server", id)],
            Effect::Status(id, "running"),
            d * 2,
        ));
    }
    for v in volumes {
        next.push(w.start(
            "attach_volume",
            &[("server", id), ("volume", v)],
            Effect::Attach(v, id),
            d * 2,
        ));
    }
    let no_keys = body["ssh_keys"].as_array().is_none_or(Vec::is_empty);
    (
        201,
        json!({
            "server": server,
            "action": action,
            "next_actions": next,
            "root_password": if no_keys { json!("fake-root-password") } else { Value::Null },
        }),
    )
}

fn delete_server(w: &mut World, id: Option<u64>) -> Answer {
    let Some(id) = id.filter(|i| w.servers.contains_key(i)) else {
        return not_found("server");
    };
    if w.locked("server", id) {
        return locked();
    }
    w.servers.get_mut(&id).unwrap()["status"] = json!("deleting");
    let d = w.action_duration;
    let action = w.start("delete_server", &[("server", id)], Effect::Delete(id), d);
    (200, json!({ "action": action }))
}

fn server_action(w: &mut World, id: Option<u64>, command: &str) -> Answer {
    let Some(id) = id.filter(|i| w.servers.contains_key(i)) else {
        return not_found("server");
    };
    let (name, effect) = match command {
        "shutdown" => ("shutdown_server", Effect::Status(id, "off")),
        "poweroff" => ("stop_server", Effect::Status(id, "off")),
        "poweron" => ("start_server", Effect::Status(id, "running")),
        _ => return not_found("action"),
    };
    if w.locked("server", id) {
        return locked();
    }
    let d = w.action_duration;
    let action = w.start(name, &[("server", id)], effect, d);
    (201, json!({ "action": action }))
}

fn create_volume(w: &mut World, body: &Value) -> Answer {
    let name = body["name"].as_str().unwrap_or("");
    let size = body["size"].as_u64().unwrap_or(0);
    let mut wrong = Vec::new();
    if !valid_hostname(name) {
        wrong.push(("name", "must be a valid name"));
    }
    if !(10..=10240).contains(&size) {
        wrong.push(("size", "must be between 10 and 10240"));
    }
    if !wrong.is_empty() {
        return invalid(&wrong);
    }
    let labels = body.get("labels").cloned().unwrap_or(json!({}));
    if let Some(bad) = check_labels(&labels) {
        return bad;
    }
    if w.volumes.values().any(|v| v["name"] == name) {
        return error(
            409,
            "uniqueness_error",
            "volume name is already used",
            json!({}),
        );
    }
    let id = w.id();
    let location = body["location"].as_str().unwrap_or("fsn1");
    let mut v = volume_json(id, name, size, location, labels);
    v["status"] = json!("creating");
    v["format"] = body.get("format").cloned().unwrap_or(Value::Null);
    w.volumes.insert(id, v.clone());
    let d = w.action_duration;
    let action = w.start("create_volume", &[("volume", id)], Effect::None, d);
    // The fake's volume is available at once; the action still runs a while.
    w.volumes.get_mut(&id).unwrap()["status"] = json!("available");
    (
        201,
        json!({ "volume": v, "action": action, "next_actions": [] }),
    )
}

/// `POST /placement_groups`: no action (`action: null`), the name unique.
fn create_placement_group(w: &mut World, body: &Value) -> Answer {
    let name = body["name"].as_str().unwrap_or("");
    if !valid_hostname(name) {
        return invalid(&[("name", "must be a valid name")]);
    }
    if body["type"] != "spread" {
        return invalid(&[("type", "must be spread")]);
    }
    let labels = body.get("labels").cloned().unwrap_or(json!({}));
    if let Some(bad) = check_labels(&labels) {
        return bad;
    }
    if w.placement_groups.values().any(|g| g["name"] == name) {
        return error(
            409,
            "uniqueness_error",
            "placement group name is already used",
            json!({ "fields": [{"name": "name", "messages": ["is already used"]}] }),
        );
    }
    let id = w.id();
    let g = json!({
        "id": id, "name": name, "labels": labels, "created": timestamp(),
        "servers": [], "type": "spread",
    });
    w.placement_groups.insert(id, g.clone());
    (201, json!({ "placement_group": g, "action": null }))
}

/// `DELETE /volumes/{id}`: 204 and gone at once (no action); refused
/// while attached (the API's rule; its error code is not documented where
/// we looked: 422 `volume_attached` here).
fn delete_volume(w: &mut World, id: Option<u64>) -> Answer {
    let Some(id) = id.filter(|i| w.volumes.contains_key(i)) else {
        return not_found("volume");
    };
    if !w.volumes[&id]["server"].is_null() {
        return error(
            422,
            "volume_attached",
            "volume must be detached before it is deleted",
            json!({}),
        );
    }
    if w.locked("volume", id) {
        return locked();
    }
    w.volumes.remove(&id);
    (204, Value::Null)
}

fn volume_action(w: &mut World, id: Option<u64>, command: &str, body: &Value) -> Answer {
    let Some(id) = id.filter(|i| w.volumes.contains_key(i)) else {
        return not_found("volume");
    };
    if w.locked("volume", id) {
        return locked();
    }
    let d = w.action_duration;
    let held = w.volumes[&id]["server"].as_u64();
    match command {
        "attach" => {
            let Some(server) = body["server"]
                .as_u64()
                .filter(|s| w.servers.contains_key(s))
            else {
                return invalid(&[("server", "server not found")]);
            };
            if held.is_some() {
                return error(
                    422,
                    "volume_already_attached",
                    "volume is already attached to a server",
                    json!({}),
                );
            }
            if w.locked("server", server) {
                return locked();
            }
            let a = w.start(
                "attach_volume",
                &[("server", server), ("volume", id)],
                Effect::Attach(id, server),
                d,
            );
            (201, json!({ "action": a }))
        }
        "detach" => {
            let resources: Vec<(&str, u64)> = [("volume", id)]
                .into_iter()
                .chain(held.map(|s| ("server", s)))
                .collect();
            let a = w.start("detach_volume", &resources, Effect::Detach(id), d);
            (201, json!({ "action": a }))
        }
        _ => not_found("action"),
    }
}

fn ip_action(w: &mut World, id: Option<u64>, command: &str, body: &Value) -> Answer {
    let Some(id) = id.filter(|i| w.floating_ips.contains_key(i)) else {
        return not_found("floating_ip");
    };
    if w.locked("floating_ip", id) {
        return locked();
    }
    let d = w.action_duration;
    match command {
        "assign" => {
            let Some(server) = body["server"]
                .as_u64()
                .filter(|s| w.servers.contains_key(s))
            else {
                return invalid(&[("server", "server not found")]);
            };
            let a = w.start(
                "assign_floating_ip",
                &[("floating_ip", id), ("server", server)],
                Effect::Assign(id, server),
                d,
            );
            (201, json!({ "action": a }))
        }
        "unassign" => {
            let a = w.start(
                "unassign_floating_ip",
                &[("floating_ip", id)],
                Effect::Unassign(id),
                d,
            );
            (201, json!({ "action": a }))
        }
        _ => not_found("action"),
    }
}

/// Labels as the fake stores them, for tests that seed the world.
pub fn labels(pairs: &[(&str, &str)]) -> Value {
    let m: BTreeMap<&str, &str> = pairs.iter().copied().collect();
    json!(m)
}
