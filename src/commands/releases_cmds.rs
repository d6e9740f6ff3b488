//! `releases list|prune`: what is in releases/<env>/, when each was built
//! (the local build log), and where it runs (the environment's provider,
//! asked through the deploy layer, `deploy::retention`).

use std::collections::BTreeMap;

use super::*;
use crate::cli::{ReleasesListArgs, ReleasesPruneArgs};
use crate::release::{log, store};

#[derive(Serialize)]
struct Listed {
    version: String,
    /// Its last build's place in the build log (the order of builds).
    #[serde(skip)]
    seq: Option<usize>,
    /// Last build, from the log; none for releases older than the log.
    built: Option<String>,
    bytes: u64,
    /// The VMs booting it (`<provider>:<name>`).
    running: Vec<String>,
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// Releases, newest build first (releases the log does not know last).
fn listed(
    project: &Path,
    env: &str,
    running: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Listed>> {
    let dir = store::env_dir(project, env);
    // When each was last built, and in what order: the log's line order,
    // which is monotonic where its one-second times tie (#27 item 14: ties
    // broken by version text let `prune --keep 1` delete the newest).
    let mut built: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let log = log::read(&dir)?;
    if let Some(note) = log.note(&dir.join(log::FILE)) {
        errln!("{env}: {note}");
    }
    for (seq, e) in log.entries.into_iter().enumerate() {
        built.insert(e.version, (seq, e.time));
    }
    let mut out: Vec<Listed> = store::list(project, env)?
        .into_iter()
        .map(|v| Listed {
            seq: built.get(&v).map(|b| b.0),
            built: built.get(&v).map(|b| b.1.clone()),
            bytes: dir_bytes(&dir.join(&v)),
            running: running.get(&v).cloned().unwrap_or_default(),
            version: v,
        })
        .collect();
    // Newest first; releases the log does not know (built before it
    // existed) last, by version for a stable order.
    out.sort_by(|a, b| b.seq.cmp(&a.seq).then(a.version.cmp(&b.version)));
    Ok(out)
}

pub fn releases_list(project: &Path, args: &ReleasesListArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
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
            r.version,
            r.built.as_deref().unwrap_or("(before the build log)"),
            r.bytes / 1024,
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

pub fn releases_prune(project: &Path, args: &ReleasesPruneArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    env_with_releases(project, env)?;
    // Deleting a running release would break its replacement's way back:
    // without an answer from the provider, nothing is deleted.
    let runs = deploy_cmds::running(project, env, &args.connect).map_err(|why| {
        Error::new(
            crate::error::Kind::Unreachable,
            format!("cannot tell which releases run ({why:#}); nothing was deleted; pass --connect URI if the VMs run elsewhere"),
        )
    })?;
    let lock = release::write::lock_env(project, env)?;
    let releases = listed(project, env, &runs)?;
    // What serves by the deployment record, and what `rollback` would go
    // back to, stay too.
    let (recorded, skipped) = crate::deploy::retention::recorded(project, env)?;
    if let Some(note) = skipped {
        errln!("{env}: {note}");
    }
    let mut deleted = Vec::new();
    for r in releases
        .iter()
        .skip(args.keep as usize)
        .filter(|r| r.running.is_empty() && !recorded.contains(&r.version))
    {
        if !args.dry_run {
            // Moved aside first: a crash leaves a hidden leftover, which the
            // next writer removes, never half a release.
            let from = lock.dir().join(&r.version);
            let aside = lock.dir().join(format!(".{}-pruned", r.version));
            std::fs::rename(&from, &aside)
                .with_context(|| format!("moving {} aside", from.display()))?;
            std::fs::remove_dir_all(&aside)
                .with_context(|| format!("removing {}", aside.display()))?;
        }
        deleted.push(r.version.clone());
    }
    let kept: Vec<&str> = releases
        .iter()
        .map(|r| r.version.as_str())
        .filter(|v| !deleted.iter().any(|d| d == v))
        .collect();
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
        for v in &deleted {
            outln!("{verb} {env} {v}");
        }
        outln!("{env}: kept {} release(s): {}", kept.len(), kept.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
