//! `libvirt replace|rollback`: the operator's side of provider/libvirt/replace.rs.

use super::*;
use crate::cli::{LibvirtRollbackArgs, ReplaceHow};

pub fn libvirt_replace(
    project: &Path,
    env: &str,
    release: Option<&str>,
    how: &ReplaceHow,
) -> Result<ExitCode> {
    known_env(project, env)?;
    let release = release.map(str::parse::<Version>).transpose()?;
    let (report, ok) = load_all(project, env);
    let Some((config, images)) = ok else {
        return report_failure(&report, how.json);
    };
    if !report.problems.is_empty() && !how.json {
        errln!("{report}");
    }
    let templates = render::Templates::load(project)?;
    let opts = libvirt::ReplaceOptions {
        up: up_options(release, &how.connect, how.seed, false),
        health_wait: how.health_wait,
        shutdown_timeout: how.shutdown_timeout,
    };
    let json = how.json;
    let mut progress = |s: &libvirt::Step| {
        if !json {
            print_step(s)
        }
    };
    let mut on_event = |e: &libvirt::console::Event| {
        if !json {
            print_event(e)
        }
    };
    let out = libvirt::replace(
        project,
        &config,
        &images,
        &templates,
        &opts,
        &mut progress,
        &mut on_event,
    )?;
    if json {
        print_json(&out)?;
    } else {
        say_outcome(&out);
    }
    Ok(if out.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn libvirt_rollback(project: &Path, args: &LibvirtRollbackArgs) -> Result<ExitCode> {
    let env = args.env.as_str();
    known_env(project, env)?;
    let Some(previous) = libvirt::rollback_target(project, env) else {
        return Err(Error::invalid(format!(
            "{env} has no release to roll back to: releases/{env}/deployments.log records none before the current one (it records `libvirt up --wait`, `replace` and `rollback`)"
        ))
        .into());
    };
    if !args.how.json {
        errln!("{env}: rolling back to release {previous}");
    }
    libvirt_replace(project, env, Some(&previous), &args.how)
}

fn say_outcome(out: &libvirt::ReplaceOutcome) {
    let secs =
        |ms: Option<u128>| ms.map_or("-".to_string(), |m| format!("{:.1} s", m as f64 / 1000.0));
    let env = &out.env;
    match out.outcome {
        "unchanged" => outln!("{env}: release {} already serves on {}; nothing to do", out.version, out.domain),
        "started" => outln!("{env}: release {} serves on {} (nothing ran before)", out.version, out.domain),
        "replaced" => outln!(
            "{env}: release {} replaced {} on {}; outage {} (one boot: the old VM stops before the new one starts, they share the data disk)",
            out.version,
            out.previous.as_deref().unwrap_or("-"),
            out.domain,
            secs(out.outage_ms)
        ),
        "rolled back" => errln!(
            "{env}: release {} was not healthy ({}); rolled back: release {} serves again; outage {}",
            out.version,
            out.reason.as_deref().unwrap_or("-"),
            out.previous.as_deref().unwrap_or("-"),
            secs(out.outage_ms)
        ),
        _ => errln!(
            "{env}: release {} was not healthy ({}), and the previous release did not come back healthy either: nothing serves; see `torrust-bake libvirt status {env}` and the console logs",
            out.version,
            out.reason.as_deref().unwrap_or("-")
        ),
    }
}
