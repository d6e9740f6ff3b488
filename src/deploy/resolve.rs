//! Which release a deploy boots: a stored one (verified first, under the
//! release key), or the environment's own, built now (`release::build`, the
//! same pipeline as `build`; in memory only for a dry run).

use std::path::PathBuf;

use anyhow::Result;

use super::Inputs;
use crate::error::Error;
use crate::release::{self, store};

/// What the environment's release is, and where its seeds are.
pub struct ReleaseRef {
    pub version: String,
    pub dir: PathBuf,
}

/// The release to boot: the stored `inputs.release` (verified: checksum
/// lists, manifest, keyed digests), or the environment's own, built now (in
/// memory only for a dry run).
pub fn resolve(inputs: &Inputs) -> Result<(ReleaseRef, String)> {
    let Inputs {
        project,
        config,
        images,
        templates,
        release,
        dry_run,
    } = *inputs;
    let env = config.env.as_str();
    if let Some(v) = release {
        let dir = store::env_dir(project, env).join(v);
        let manifest = store::read_manifest(&dir)?;
        // Checked under the release key too: a seed edited together with its
        // checksum line must not boot.
        let key = crate::digest::Key::new(&config.secrets.release_key);
        let bad = release::verify::verify(&dir, Some(&key))?;
        if !bad.is_empty() {
            let list: Vec<String> = bad
                .iter()
                .map(|f| format!("{} {}", f.path, f.problem))
                .collect();
            return Err(Error::invalid(format!(
                "release {v} is not what its checksums say ({}); rebuild it with `torrust-bake build {env}`",
                list.join(", ")
            ))
            .into());
        }
        let version = manifest.version.to_string();
        return Ok((
            ReleaseRef { version, dir },
            format!("stored release {v}, SHA256SUMS verified"),
        ));
    }
    if dry_run {
        let made = release::make(config, images, templates, None)?;
        let version = made.manifest.version.to_string();
        let dir = store::env_dir(project, env).join(&version);
        let how = if dir.join("manifest.json").is_file() {
            "built already"
        } else {
            "would be written by `build`"
        };
        return Ok((
            ReleaseRef { version, dir },
            format!("{env}'s release ({how})"),
        ));
    }
    let built = release::build(project, config, images, templates)?;
    let version = built.release.manifest.version.to_string();
    let how = match built.written {
        release::Written::New => "built now",
        release::Written::Unchanged => "built already",
        release::Written::Repaired(_) => "rebuilt: the copy on disk did not match its checksums",
    };
    Ok((
        ReleaseRef {
            version,
            dir: built.path,
        },
        format!("{env}'s release ({how})"),
    ))
}
