//! Templates -> the release's file tree (pure: in-memory values only).
//!
//! `bundle.rs` lists every file's place in the VM, mode, owner and secret
//! flag; `templates.rs` loads the templates (the project's `templates/`
//! copy when there is one, else the built-in one); `filters.rs` escapes
//! values for the format they land in (`toml_str`, `yaml_str`,
//! `compose_str`, `sh_str`); `dashboard.rs` generates the monitoring's
//! fields and panels; `parse_back.rs` parses every TOML, YAML and JSON file
//! back before it is accepted; `file.rs` the file type; `secrets.rs` the
//! secrets the templates see, real or redacted. Here: the render itself.

mod bundle;
mod dashboard;
mod file;
mod filters;
pub mod firewall;
mod parse_back;
mod secrets;
mod templates;

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use tera::Context;

use crate::config::Config;
use crate::images::ResolvedImage;

pub use file::File;
pub use filters::url_encode;
pub use parse_back::parse_back;
pub use secrets::SecretContext;
pub use templates::{Templates, INSTALL_TEMPLATE};

/// Renders the whole bundle for `config`, with real or redacted secrets.
pub fn render(
    templates: &Templates,
    config: &Config,
    images: &[ResolvedImage],
    secrets: &SecretContext,
) -> Result<Vec<File>> {
    let tera = templates.tera();
    let image_map: BTreeMap<&str, &str> = images
        .iter()
        .map(|i| (i.service.as_str(), i.pinned.as_str()))
        .collect();
    let mut ctx = Context::new();
    ctx.insert("config", config);
    ctx.insert("secrets", secrets);
    ctx.insert("images", &image_map);
    // In the order the configuration needs them: the tracker's first.
    ctx.insert("image_list", images);
    ctx.insert("on_reverse_proxy", &config.domain_name.is_some());
    ctx.insert("listen", &config.listeners());
    ctx.insert("stats_fields", dashboard::STATS_FIELDS);
    ctx.insert("dashboard_panels", &dashboard::dashboard_panels());

    ctx.insert("sqlite_host_dir", &bundle::sqlite_host_dir(config));
    ctx.insert("backup", &bundle::backup_context(config));
    ctx.insert("lo_addresses", &config.lo_addresses());
    ctx.insert("firewall", &firewall::openings(config));
    ctx.insert("status_port", &crate::config::BOOT_STATUS_PORT);

    let entries: Vec<&bundle::Entry> = bundle::ENTRIES
        .iter()
        .filter(|e| (e.when)(config))
        .collect();
    let mut files = bundle::secret_files(config, secrets);
    files.extend(bundle::registry_ca_file(config));
    files.extend(bundle::acme_ca_root_file(config));
    files.extend(bundle::backup_files(config, secrets));
    // The prepare script gives every file not owned by root to its user.
    let owned: Vec<bundle::OwnedFile> = files
        .iter()
        .map(|f| (f.path.as_str(), f.uid, f.mode))
        .chain(entries.iter().map(|e| (e.path, e.owner, e.mode)))
        .filter(|(_, uid, _)| *uid != 0)
        .map(|(path, uid, mode)| bundle::OwnedFile {
            path: path.to_string(),
            owner: format!("{uid}:{uid}"),
            mode: format!("{mode:04o}"),
        })
        .collect();
    ctx.insert("owned_files", &owned);
    for e in entries {
        let text = tera
            .render(e.template, &ctx)
            .with_context(|| format!("rendering templates/{}", e.template))?;
        parse_back(e.path, &text).map_err(|err| {
            crate::error::Error::invalid(format!(
                "templates/{} rendered an invalid {}: {err}; fix the template (or the value it escapes)",
                e.template, e.path
            ))
        })?;
        files.push(File {
            path: e.path.to_string(),
            content: text.into_bytes(),
            mode: e.mode,
            uid: e.owner,
            gid: e.owner,
            secret: e.secret,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}
