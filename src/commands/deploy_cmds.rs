//! `deploy|status|rollback|destroy`: the operator's side of `crate::deploy`,
//! the same on every provider (INFRASTRUCTURE_PROVIDER picks it).

use super::*;
use crate::cli::{ConnectArgs, DeployArgs, DestroyArgs, ReplaceHow, RollbackArgs, StatusArgs};
use crate::deploy::{self, boot, Deployed, PlanKind, ReplaceOutcome, Step, UpOutcome};
use crate::provider::{self, Connect, Machines, Provider, SeedKind};

/// The environment's provider by its configuration: the validated one, or
/// (for commands that work from what runs, with a broken or deleted env
/// file) INFRASTRUCTURE_PROVIDER as written, else the default.
fn provider_of(project: &Path, env: &str) -> (Provider, Option<Config>) {
    let loaded = config::load(project, env, &config::process_env);
    if let Some(c) = loaded.config {
        return (c.provider, Some(c));
    }
    let named = loaded.raw.as_ref().and_then(|raw| {
        Provider::parse(&raw[crate::config::vars::VarId::INFRASTRUCTURE_PROVIDER].value)
    });
    (named.unwrap_or(Provider::Libvirt), None)
}

pub(super) fn connect(at: &ConnectArgs, seed: SeedKind) -> Connect {
    Connect {
        libvirt_uri: at.uri.clone(),
        libvirt_seed: seed,
    }
}

fn print_step(step: &Step) {
    errln!(
        "{:>8.1} s  {:12} {}",
        step.ms as f64 / 1000.0,
        step.step,
        step.detail
    );
}

/// What a deploying command prints as it goes: each step and each boot
/// event on stderr, nothing with `--json` (one document at the end).
pub(super) fn printers(json: bool) -> (impl FnMut(&Step), impl FnMut(&boot::Event)) {
    (
        move |s: &Step| {
            if !json {
                print_step(s)
            }
        },
        move |e: &boot::Event| {
            if !json {
                print_event(e)
            }
        },
    )
}

fn print_event(e: &boot::Event) {
    errln!(
        "{:>8.1} s  {:18} {}",
        e.ms as f64 / 1000.0,
        e.event,
        e.detail
    );
}

/// What a deploying command needs: the validated environment, its images
/// and templates, and the release asked for.
pub(super) struct Loaded {
    pub config: Config,
    pub images: Pinned,
    pub templates: render::Templates,
    pub release: Option<Version>,
}

/// Loads what a deploy needs, or prints why not (`Err(exit code)`).
pub(super) fn load_deploy(
    project: &Path,
    env: &str,
    release: Option<&str>,
    restore: Option<&str>,
    json: bool,
) -> Result<std::result::Result<Loaded, ExitCode>> {
    known_env(project, env)?;
    let release = release.map(str::parse::<Version>).transpose()?;
    // --restore is BACKUP_RESTORE_SNAPSHOT for this deploy, validated as one.
    let restore_var = crate::config::vars::VarId::BACKUP_RESTORE_SNAPSHOT.name();
    let process = |name: &str| match restore {
        Some(s) if name == restore_var => Some(s.to_string()),
        _ => config::process_env(name),
    };
    let (report, ok) = load_all_with(project, env, &process);
    let Some((config, images)) = ok else {
        return Ok(Err(report_failure(&report, json)?));
    };
    if !report.problems.is_empty() && !json {
        errln!("{report}");
    }
    let templates = render::Templates::load(project)?;
    Ok(Ok(Loaded {
        config,
        images,
        templates,
        release,
    }))
}

impl Loaded {
    pub(super) fn inputs<'a>(&'a self, project: &'a Path, dry_run: bool) -> deploy::Inputs<'a> {
        deploy::Inputs {
            project,
            config: &self.config,
            images: &self.images,
            templates: &self.templates,
            release: self.release.as_ref(),
            dry_run,
        }
    }

    pub(super) fn machines(&self, how: &Connect) -> Result<Box<dyn Machines>> {
        provider::open(self.config.provider, self.config.env.as_str(), how)
    }
}

pub fn deploy(project: &Path, args: &DeployArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    if args.restore.is_some() && args.release.is_some() {
        return Err(crate::error::Error::invalid(
            "--restore builds a release that restores; --release deploys a stored one: give one of them".to_string(),
        )
        .into());
    }
    let loaded = match load_deploy(
        project,
        env,
        args.release.as_deref(),
        args.restore.as_deref(),
        json,
    )? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let flags = &args.provider;
    let machines = loaded.machines(&connect(&flags.connect, flags.seed))?;
    let opts = deploy::DeployOptions {
        wait: args.wait,
        shutdown_timeout: flags.shutdown_timeout,
        no_backup: args.no_backup,
    };
    let (mut progress, mut on_event) = printers(json);
    let inputs = loaded.inputs(project, args.dry_run);
    if !json && !args.dry_run {
        if let Some(wait) = args.wait {
            errln!(
                "{env}: following the new VM's boot until the tracker is healthy (at most {})",
                humantime::format_duration(wait)
            );
        }
    }
    match deploy::deploy(
        &inputs,
        machines.as_ref(),
        &opts,
        &mut progress,
        &mut on_event,
    )? {
        Deployed::First(out) => say_up(&out, json),
        Deployed::Replaced(out) => say_replaced(&out, json),
    }
}

/// Where a machine's boot lines are read: its console log, or for a
/// provider without one (Hetzner) the boot status the release serves.
fn console_words(log: &Option<std::path::PathBuf>) -> String {
    log.as_ref().map_or_else(
        || {
            format!(
                "- (boot status on port {})",
                crate::config::BOOT_STATUS_PORT
            )
        },
        |p| p.display().to_string(),
    )
}

/// Prints a first deploy; exit 0 unless a wait saw the release fail or
/// not finish.
pub(super) fn say_up(out: &UpOutcome, json: bool) -> Result<ExitCode> {
    let env = &out.env;
    let console = console_words(&out.console_log);
    if json {
        print_json(out)?;
    } else if out.dry_run {
        outln!("{}", out.xml.trim_end());
        outln!(
            "{env}: dry run, nothing changed; `torrust-bake deploy {env}` would start {} (release {})",
            out.domain,
            out.version
        );
    } else if out.already_running {
        outln!(
            "{env}: {} (release {}) is already running; console: {console}",
            out.domain,
            out.version
        );
    } else {
        outln!(
            "{env}: started {} (release {}, {}); console: {console}; `torrust-bake status {env}` shows its address",
            out.domain,
            out.version,
            out.domain_type
        );
    }
    Ok(boot_verdict(out, &console, json))
}

/// Exit 0 unless a wait saw the release fail or not finish; says why.
fn boot_verdict(out: &UpOutcome, console: &str, json: bool) -> ExitCode {
    use boot::Outcome;
    let Some(b) = &out.boot else {
        return ExitCode::SUCCESS;
    };
    let at = |ms: u128| format!("{:.1} s", ms as f64 / 1000.0);
    let end = b.timeline.last().map_or(0, |e| e.ms);
    let (env, v, d) = (&out.env, &out.version, &out.domain);
    let (ok, message) = match &b.outcome {
        Outcome::Healthy => (true, format!("{env}: release {v} on {d}: tracker healthy {} after it started", at(end))),
        Outcome::Ready => (false, format!("{env}: release {v} on {d} waits for the data volume, which a first deploy attaches at once: `torrust-bake status {env}`")),
        Outcome::Failed(why) => (false, format!("{env}: release {v} on {d} failed to start: {why} (the VM said so {} after start; console: {console})", at(end))),
        Outcome::TimedOut(last) => (false, format!("{env}: release {v} on {d}: the tracker was not healthy within the wait; the console's last line: {last:?} (console: {console}); `torrust-bake status {env}` shows where it is")),
    };
    if !json {
        if ok {
            outln!("{message}")
        } else {
            errln!("{message}")
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Prints a replacement; exit 0 when the new release serves (or already did).
pub(super) fn say_replaced(out: &ReplaceOutcome, json: bool) -> Result<ExitCode> {
    if json {
        print_json(out)?;
    } else {
        say_outcome(out);
    }
    Ok(if out.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn say_outcome(out: &ReplaceOutcome) {
    use crate::deploy::Replaced;
    let secs =
        |ms: Option<u128>| ms.map_or("-".to_string(), |m| format!("{:.1} s", m as f64 / 1000.0));
    let env = &out.env;
    let address = out
        .service_address
        .as_deref()
        .map(|a| format!("; service address: {a}"))
        .unwrap_or_default();
    let how = if out.plan == PlanKind::HandOver {
        "the new VM booted beside the old one and took over the data disk once ready"
    } else {
        "one boot: the old VM stops before the new one starts, as the VM's static address cannot be shared; leave INFRASTRUCTURE_IPV4_ADDRESS unset for a hand-over"
    };
    let reason = out.reason.as_deref().unwrap_or("-");
    let previous = out.previous.as_deref().unwrap_or("-");
    match out.outcome {
        Replaced::Unchanged => outln!("{env}: release {} already serves on {}; nothing to do{address}", out.version, out.domain),
        Replaced::Started => outln!("{env}: release {} serves on {} (nothing ran before){address}", out.version, out.domain),
        Replaced::Replaced => outln!(
            "{env}: release {} replaced {previous} on {}; outage {} ({how}){address}",
            out.version,
            out.domain,
            secs(out.outage_ms)
        ),
        Replaced::Kept => errln!(
            "{env}: release {} did not get ready ({reason}); it was removed before the hand-over: release {previous} never stopped serving (outage 0 s); fix what the VM said, then `torrust-bake deploy {env}` again",
            out.version,
        ),
        Replaced::RolledBack => errln!(
            "{env}: release {} was not healthy ({reason}); rolled back: release {previous} serves again; outage {}{address}; fix what the VM said, then `torrust-bake deploy {env}` again",
            out.version,
            secs(out.outage_ms)
        ),
        Replaced::RollbackFailed => errln!(
            "{env}: release {} was not healthy ({reason}), and the previous release did not come back healthy either: nothing serves; see `torrust-bake status {env}` and the console logs",
            out.version,
        ),
    }
}

/// A replacement with `release` (the old `libvirt replace`, and rollback).
pub(super) fn run_replace(
    project: &Path,
    env: &str,
    release: Option<&str>,
    how: &ReplaceHow,
    json: bool,
) -> Result<ExitCode> {
    let loaded = match load_deploy(project, env, release, None, json)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let machines = loaded.machines(&connect(&how.provider.connect, how.provider.seed))?;
    let opts = deploy::ReplaceOptions {
        health_wait: how.health_wait,
        shutdown_timeout: how.provider.shutdown_timeout,
        no_backup: how.no_backup,
    };
    let (mut progress, mut on_event) = printers(json);
    let inputs = loaded.inputs(project, false);
    let out = deploy::replace_locked(
        &inputs,
        machines.as_ref(),
        &opts,
        &mut progress,
        &mut on_event,
    )?;
    say_replaced(&out, json)
}

pub fn rollback(project: &Path, args: &RollbackArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    known_env(project, env)?;
    // A provider without deploys says so before the record is asked.
    let (provider, _) = provider_of(project, env);
    provider::open(provider, env, &Connect::default())?;
    let Some(previous) = deploy::rollback_target(project, env)? else {
        return Err(Error::invalid(format!(
            "{env} has no release to roll back to: releases/{env}/deployments.log records none before the current one (it records `deploy`, healthy, and `rollback`)"
        ))
        .into());
    };
    if !json {
        errln!("{env}: rolling back to release {previous}");
    }
    run_replace(project, env, Some(&previous), &args.how, json)
}

pub fn status(project: &Path, args: &StatusArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    env_or_leftovers(project, env)?;
    let (provider, config) = provider_of(project, env);
    let machines = provider::open(provider, env, &connect(&args.connect, SeedKind::Iso))?;
    let domains = deploy::status(machines.as_ref(), env)?;
    // Where clients announce to, and which VM that reaches now.
    let service = config.as_ref().and_then(|c| {
        let all: Vec<String> = c.floating().iter().map(ToString::to_string).collect();
        (!all.is_empty()).then(|| (all.join(", "), machines.pointed(c)))
    });
    if json {
        let service = service
            .map(|(address, via)| serde_json::json!({ "address": address, "routed_via": via }));
        print_json(
            &serde_json::json!({ "env": env, "domains": domains, "service_address": service }),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if domains.is_empty() {
        outln!("{env}: no VMs (`torrust-bake deploy {env}` starts one)");
    }
    if let Some((address, via)) = &service {
        outln!(
            "{env}: service addresses {address}, routed: {}",
            via.as_deref().unwrap_or("- (no route here)")
        );
    }
    for d in &domains {
        let address = if d.addresses.is_empty() {
            "-".to_string()
        } else {
            d.addresses.join(",")
        };
        outln!(
            "{}  release {}  {}  boot {:?}  address {}  console {}  data {}",
            d.domain,
            d.release,
            d.state,
            d.boot.as_deref().unwrap_or("-"),
            address,
            console_words(&d.console_log),
            d.data_disk.as_deref().unwrap_or("-")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn destroy(project: &Path, args: &DestroyArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    env_or_leftovers(project, env)?;
    // The config names the data disk even when no VM is left to; destroy
    // itself needs no valid config (it works from what the provider reports).
    let (provider, config) = provider_of(project, env);
    let machines = provider::open(provider, env, &connect(&args.connect, SeedKind::Iso))?;
    if args.purge && config.is_none() {
        errln!("{env}: the configuration has errors (`torrust-bake check {env}`); only data disks of existing VMs can be purged");
    }
    if args.shutdown_timeout.is_none() && config.is_none() && !machines.list(env)?.is_empty() {
        errln!("{env}: the configuration has errors (`torrust-bake check {env}`): each VM gets 120 s to stop, which may cut off a hand-over backup longer than that (--shutdown-timeout to say how long)");
    }
    // The guest's shutdown makes the last hand-over backup: it gets that
    // backup's bound unless told otherwise.
    let shutdown_timeout = args.shutdown_timeout.unwrap_or_else(|| {
        let base = std::time::Duration::from_secs(120);
        config
            .as_ref()
            .map_or(base, |c| deploy::with_backup_bound(base, &c.backup))
    });
    let opts = deploy::DestroyOptions {
        shutdown_timeout,
        purge: args.purge,
        data_disk: match &config {
            Some(c) => machines.data_volume(c)?,
            None => None,
        },
    };
    let (mut progress, _) = printers(json);
    let (outcomes, data_disks) =
        deploy::destroy(project, env, machines.as_ref(), &opts, &mut progress)?;
    if json {
        print_json(&serde_json::json!({
            "env": env, "domains": outcomes, "data_disks": data_disks, "purged": args.purge,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if outcomes.is_empty() {
        outln!("{env}: no VMs");
    }
    for o in &outcomes {
        outln!(
            "{env}: {} (release {}) stopped ({}) and retired",
            o.domain,
            o.release,
            o.stop
        );
    }
    for d in &data_disks {
        if args.purge {
            outln!("{env}: data disk {d} deleted");
        } else {
            outln!("{env}: data disk {d} kept for the next `deploy` (--purge deletes it)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The environment's machines by release, for `releases list|prune`,
/// through its provider and `--connect`. A provider that cannot be asked
/// (Hetzner without HCLOUD_TOKEN) is an error: prune must never take
/// "cannot tell" for "nothing runs".
pub(super) fn running(
    project: &Path,
    env: &str,
    at: &ConnectArgs,
) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
    let (provider, _) = provider_of(project, env);
    let machines = provider::open(provider, env, &connect(at, SeedKind::Iso))
        .context("which releases run decides what is kept")?;
    deploy::retention::running(machines.as_ref(), env)
}
