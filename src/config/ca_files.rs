//! The CA certificate files a release ships, read from the project
//! directory once the values are valid (validation alone does not know the
//! directory) and carried in the config, so the release is made from what
//! was checked: `CONTAINER_REGISTRY_CA_FILE` (the VM's Docker trusts the
//! private registry) and `ACME_CA_ROOT_FILE` (Caddy trusts a private ACME
//! directory). What a file may hold is `ca_pem`'s rule: certificates only.

use std::path::Path;

use super::ca_pem;
use super::load::RawValues;
use super::report::{Problem, Report};
use super::vars::VarId::{self, ACME_CA_ROOT_FILE, CONTAINER_REGISTRY_CA_FILE};
use super::Config;

/// Reads each CA file into the config, or reports why it cannot be used
/// (and drops the config: the release would not trust the server).
pub fn attach(project: &Path, raw: &RawValues, config: &mut Option<Config>, report: &mut Report) {
    let Some(c) = config.as_mut() else { return };
    let mut failed = false;
    if let Some(trust) = c.registry.as_mut() {
        match read(project, raw, CONTAINER_REGISTRY_CA_FILE, report) {
            Ok(pem) => trust.ca_pem = pem,
            Err(()) => failed = true,
        }
    }
    if let Some(acme) = c.acme.as_mut() {
        match read(project, raw, ACME_CA_ROOT_FILE, report) {
            Ok(pem) => acme.root_pem = pem,
            Err(()) => failed = true,
        }
    }
    if failed {
        *config = None;
    }
}

/// The file `id` names (None when unset), or its problem reported.
fn read(
    project: &Path,
    raw: &RawValues,
    id: VarId,
    report: &mut Report,
) -> Result<Option<String>, ()> {
    let rel = &raw[id].value;
    if rel.is_empty() {
        return Ok(None);
    }
    ca_pem::read(&project.join(rel))
        .map(Some)
        .map_err(|(message, fix)| {
            report.push(Problem::error(
                Some(id.name().to_string()),
                raw[id].source.clone(),
                format!("{rel}: {message}"),
                &fix,
            ));
        })
}
