//! `releases list|prune`: what is in releases/<env>/, when each was built
//! (the local build log), and where it runs (the environment's provider,
//! asked through the deploy layer, `deploy::retention`).

use std::collections::BTreeMap;

use super::*;
use crate::cli::{ReleasesListArgs, ReleasesPruneArgs};
use crate::deploy::retention;
use crate::release::inventory;

/// A stored release and the machines booting it (`<provider>:<name>`).
#[derive(Serialize)]
struct Listed {
    #[serde(flatten)]
    stored: inventory::Stored,
    running: Vec<String>,
}

fn listed(
    project: &Path,
    env: &str,
    running: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Listed>> {
    let (stored, note) = inventory::stored(project, env)?;
    if let Some(note) = note {
        errln!("{env}: {note}");
    }
    Ok(stored
        .into_iter()
        .map(|s| Listed {
            running: running.get(&s.version).cloned().unwrap_or_default(),
            stored: s,
        })
        .collect())
}

pub fn releases_list(project: &Path, args: &ReleasesListArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    env_with_releases(project, env)?;
    let runs = deploy_cmds::running(project, env, &args.connect).map_err(|e| format!("{e:#}"));
    let releases = listed(project, env, runs.as_ref().unwrap_or(&BTreeMap::new()))?;
    if json {
        let unknown = runs.as_ref().err();
        print_json(
            &serde_json::json!({ "env": env, "releases": releases, "running_unknown": unknown }),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if releases.is_empty() {
        outln!("{env}: no releases (torrust-bake build {env})");
    }
    for r in &releases {
        outln!(
            "{}  built {}  {:>8} KiB  {}",
            r.stored.version,
            r.stored
                .built
                .as_deref()
                .unwrap_or("(before the build log)"),
            r.stored.bytes / 1024,
            if r.running.is_empty() {
                "-".to_string()
            } else {
                format!("runs on {}", r.running.join(", "))
            }
        );
    }
    if let Err(why) = runs {
        errln!("note: where releases run is unknown: the provider did not answer ({why})");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn releases_prune(project: &Path, args: &ReleasesPruneArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    env_with_releases(project, env)?;
    // Deleting a running release would break its replacement's way back:
    // without an answer from the provider, nothing is deleted.
    let runs = deploy_cmds::running(project, env, &args.connect).map_err(|why| {
        Error::new(
            crate::error::Kind::Unreachable,
            format!("cannot tell which releases run ({why:#}); nothing was deleted; pass --connect URI if the VMs run elsewhere"),
        )
    })?;
    let pruned = retention::prune(
        project,
        env,
        &runs,
        args.keep as usize,
        args.dry_run,
        &mut |note| errln!("{env}: {note}"),
    )?;
    let (deleted, kept) = (&pruned.deleted, &pruned.kept);
    if json {
        print_json(
            &serde_json::json!({ "env": env, "dry_run": args.dry_run, "deleted": deleted, "kept": kept }),
        )?;
    } else {
        let verb = if args.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        for v in deleted {
            outln!("{verb} {env} {v}");
        }
        outln!("{env}: kept {} release(s): {}", kept.len(), kept.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
