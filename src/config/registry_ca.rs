//! CONTAINER_REGISTRY_CA_FILE: the private registry's CA certificate, read
//! from the project directory once the values are valid (validation alone
//! does not know the directory) and carried in the config, so the release
//! is made from what was checked. What the file may hold is `ca_pem`'s
//! rule: certificates only.

use std::path::Path;

use super::ca_pem;
use super::load::RawValues;
use super::report::{Problem, Report};
use super::vars::VarId::CONTAINER_REGISTRY_CA_FILE;
use super::Config;

/// Reads the CA file into `config.registry`, or reports why it cannot be
/// used (and drops the config: the release would not trust the registry).
pub fn attach(project: &Path, raw: &RawValues, config: &mut Option<Config>, report: &mut Report) {
    let Some(c) = config.as_mut() else { return };
    let Some(trust) = c.registry.as_mut() else {
        return;
    };
    let rel = &raw[CONTAINER_REGISTRY_CA_FILE].value;
    if rel.is_empty() {
        return;
    }
    match ca_pem::read(&project.join(rel)) {
        Ok(pem) => trust.ca_pem = Some(pem),
        Err((message, fix)) => {
            let source = raw[CONTAINER_REGISTRY_CA_FILE].source.clone();
            let name = Some(CONTAINER_REGISTRY_CA_FILE.name().to_string());
            report.push(Problem::error(
                name,
                source,
                format!("{rel}: {message}"),
                &fix,
            ));
            *config = None;
        }
    }
}
