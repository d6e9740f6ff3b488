//! The commands `check`, `show`, `build`, `diff`, `health`, `images` and
//! `libvirt`: glue between config, images, render, release, health, the
//! providers and the terminal. Human output goes to stdout,
//! progress and problems to stderr; `--json` puts one JSON document on stdout.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::cli::{
    BuildArgs, CheckArgs, CompletionsArgs, DiffArgs, HealthArgs, LibvirtDownArgs, LibvirtSeed,
    LibvirtStatusArgs, LibvirtUpArgs, PinArgs, RegistryArgs, SecretsInitArgs, ShowArgs, VerifyArgs,
};
use crate::config::{self, Config, Report};
use crate::digest::Key;
use crate::error::Error;
use crate::images::{self, ResolvedImage};
use crate::provider::libvirt::{self, virsh::Virsh};
use crate::release::{self, Written};
use crate::render;
use crate::version::Version;

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Loads and validates the environment and its images.
fn load_all(project: &Path, env: &str) -> (Report, Option<(Config, Vec<ResolvedImage>)>) {
    let loaded = config::load(project, env, &config::process_env);
    let mut report = loaded.report;
    let Some(config) = loaded.config else {
        return (report, None);
    };
    let images = images::resolve(project, &config, &mut report);
    if report.has_errors() {
        return (report, None);
    }
    (report, Some((config, images)))
}

/// Prints the problems that stopped a command; exit code 1.
fn report_failure(report: &Report, json: bool) -> Result<ExitCode> {
    if json {
        print_json(&serde_json::json!({ "ok": false, "problems": report.json() }))?;
    } else {
        eprintln!("{report}");
    }
    Ok(ExitCode::from(1))
}

pub fn check(project: &Path, args: &CheckArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    let (report, ok) = load_all(project, env);
    if json {
        print_json(&serde_json::json!({ "ok": ok.is_some(), "problems": report.json() }))?;
    } else if report.problems.is_empty() {
        println!("{env}: ok, no problems");
    } else {
        eprintln!("{report}");
        if ok.is_some() {
            println!("{env}: ok (with warnings)");
        }
    }
    Ok(if ok.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Serialize)]
struct ShownVar<'a> {
    name: &'a str,
    value: String,
    secret: bool,
    source: String,
}

const REDACTED: &str = "********";

pub fn show(project: &Path, args: &ShowArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    let loaded = config::load(project, env, &config::process_env);
    let Some(raw) = loaded.raw else {
        return report_failure(&loaded.report, json);
    };
    let shown: Vec<ShownVar> = raw
        .iter()
        .map(|(v, r)| {
            let value = match (v.is_secret(), r.value.is_empty()) {
                (_, true) => String::new(),
                (true, false) => REDACTED.to_string(),
                (false, false) => r.value.clone(),
            };
            ShownVar {
                name: v.name,
                value,
                secret: v.is_secret(),
                source: r.source.to_string(),
            }
        })
        .collect();
    if json {
        print_json(&serde_json::json!({
            "env": env,
            "variables": shown,
            "problems": loaded.report.json(),
        }))?;
    } else {
        let width = shown.iter().map(|s| s.name.len()).max().unwrap_or(0);
        let vwidth = shown
            .iter()
            .map(|s| s.value.chars().count().min(40))
            .max()
            .unwrap_or(0)
            .max(7);
        for s in &shown {
            let value = if s.value.is_empty() {
                "(unset)"
            } else {
                &s.value
            };
            println!("{:width$}  {:vwidth$}  {}", s.name, value, s.source);
        }
        if !loaded.report.problems.is_empty() {
            eprintln!("\n{}", loaded.report);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct BuildOutput<'a> {
    env: &'a str,
    version: &'a str,
    path: String,
    files: usize,
    bundle_bytes: usize,
    user_data_bytes: u64,
    user_data_limit: u64,
    artifacts: Vec<String>,
    unchanged: bool,
    /// Files of an existing copy of this release that did not match its
    /// checksums; it was written again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    repaired: Vec<release::verify::Finding>,
}

pub fn build(project: &Path, args: &BuildArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    let started = Instant::now();
    let (report, ok) = load_all(project, env);
    let Some((config, images)) = ok else {
        let code = report_failure(&report, json)?;
        if !json {
            eprintln!("build: nothing was written");
        }
        return Ok(code);
    };
    if !report.problems.is_empty() && !json {
        eprintln!("{report}");
    }
    let templates = render::Templates::load(project)?;
    if !args.seed_formats.is_empty() && !json {
        eprintln!("note: --seed-format is no longer needed: every seed format (seed.iso, seed.img, seed.qcow2) is always written");
    }
    let release::Built {
        release,
        path,
        written,
    } = release::build(project, &config, &images, &templates)?;
    let shown_path = path
        .strip_prefix(project)
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|_| path.clone());
    let ci_info = release
        .manifest
        .cloud_init
        .clone()
        .context("the release has no cloud-init artifacts")?;
    let out = BuildOutput {
        env,
        version: release.manifest.version.as_str(),
        path: shown_path.display().to_string(),
        files: release.files.len(),
        bundle_bytes: release.tarball.len(),
        user_data_bytes: ci_info.user_data_bytes,
        user_data_limit: ci_info.user_data_limit,
        artifacts: release.artifacts.iter().map(|a| a.name.clone()).collect(),
        unchanged: written == Written::Unchanged,
        repaired: match written {
            Written::Repaired(findings) => findings,
            _ => Vec::new(),
        },
    };
    if json {
        print_json(&out)?;
    } else {
        let secrets = release.files.iter().filter(|f| f.secret).count();
        eprintln!(
            "rendered {} files ({} secret, 0600), bundle.tar.zst {} bytes, in {} ms",
            out.files,
            secrets,
            out.bundle_bytes,
            started.elapsed().as_millis()
        );
        eprintln!(
            "user-data {} bytes: {:.0}% of Hetzner's {} KiB limit; seeds: {}",
            out.user_data_bytes,
            out.user_data_bytes as f64 * 100.0 / out.user_data_limit as f64,
            out.user_data_limit / 1024,
            out.artifacts
                .iter()
                .filter(|a| a.starts_with("seed."))
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        for f in &out.repaired {
            eprintln!("warning: {}: {} in the existing copy", f.path, f.problem);
        }
        if !out.repaired.is_empty() {
            println!(
                "{env} release {} on disk did not match its checksums ({} files); wrote it again: {}",
                out.version,
                out.repaired.len(),
                out.path
            );
        } else if out.unchanged {
            println!("{env} release {} is unchanged: {}", out.version, out.path);
        } else {
            println!("built {env} release {}: {}", out.version, out.path);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn diff(project: &Path, args: &DiffArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    if let Some((message, fix)) = config::unknown_environment(env) {
        return Err(Error::invalid(format!("{message}; {fix}")).into());
    }
    // Parsed, so that `../x` cannot name a directory outside releases/<env>.
    let from: Version = args.from.parse()?;
    let to: Version = args.to.parse()?;
    let dir = release::store::env_dir(project, env);
    let changes = crate::diff::diff_releases(&dir.join(&from), &dir.join(&to))?;
    if json {
        print_json(&serde_json::json!({
            "env": env, "from": from, "to": to, "changes": changes,
        }))?;
    } else if changes.is_empty() {
        println!("{env}: {from} and {to} have the same files");
    } else {
        for c in &changes {
            println!("{c}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The environment's secrets file, from the process environment.
fn secrets_file_of(env: &str) -> Result<std::path::PathBuf> {
    if let Some((message, fix)) = config::unknown_environment(env) {
        return Err(Error::invalid(format!("{message}; {fix}")).into());
    }
    let dir = config::secrets_file::dir(&config::process_env).ok_or_else(|| {
        Error::invalid("no place for secrets files: set TORRUST_BAKE_SECRETS_DIR (or HOME)")
    })?;
    Ok(config::secrets_file::path(&dir, env))
}

pub fn secrets_path(args: &SecretsInitArgs) -> Result<ExitCode> {
    let path = secrets_file_of(&args.env)?;
    if args.json {
        print_json(&serde_json::json!({ "env": args.env, "path": path, "exists": path.exists() }))?;
    } else {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn secrets_init(project: &Path, args: &SecretsInitArgs) -> Result<ExitCode> {
    let env = args.env.as_str();
    let path = secrets_file_of(env)?;
    let loaded = config::load(project, env, &config::process_env);
    let url = loaded
        .raw
        .as_ref()
        .map(|raw| {
            raw[config::vars::VarId::TORRUST_TRACKER_DATABASE_URL]
                .value
                .clone()
        })
        .unwrap_or_default();
    let added = config::secrets_file::init(&path, env, &config::secrets_file::wanted(&url))?;
    if args.json {
        print_json(&serde_json::json!({ "env": env, "path": path, "added": added }))?;
    } else if added.is_empty() {
        println!(
            "{}: every secret {env} needs is already there; nothing changed",
            path.display()
        );
    } else {
        println!(
            "{}: added {} (0600); back it up, then: torrust-bake build {env}",
            path.display(),
            added.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(project: &Path, args: &VerifyArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    if let Some((message, fix)) = config::unknown_environment(env) {
        return Err(Error::invalid(format!("{message}; {fix}")).into());
    }
    let versions: Vec<Version> = match &args.version {
        Some(v) => vec![v.parse()?],
        None => release::store::list(project, env)?
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect(),
    };
    if versions.is_empty() {
        return Err(Error::new(
            crate::error::Kind::NotFound,
            format!("no releases of {env} under releases/{env}/; build one with `torrust-bake build {env}`"),
        )
        .into());
    }
    // The key checks secret-bearing files against the manifest; without a
    // loadable environment they are checked against SHA256SUMS.secret only.
    let key = config::load(project, env, &config::process_env)
        .config
        .map(|c| Key::new(&c.secrets.release_key));
    let dir = release::store::env_dir(project, env);
    let mut results = Vec::new();
    for v in &versions {
        let findings = release::verify::verify(&dir.join(v), key.as_ref())?;
        results.push(
            serde_json::json!({ "version": v, "ok": findings.is_empty(), "findings": findings }),
        );
    }
    let ok = results.iter().all(|r| r["ok"] == true);
    if json {
        print_json(
            &serde_json::json!({ "env": env, "ok": ok, "keyed": key.is_some(), "releases": results }),
        )?;
    } else {
        for r in &results {
            let findings = r["findings"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if findings.is_empty() {
                println!("{env} {}: ok", r["version"].as_str().unwrap_or_default());
            }
            for f in findings {
                println!(
                    "{env} {}: {}: {}",
                    r["version"].as_str().unwrap_or_default(),
                    f["path"].as_str().unwrap_or_default(),
                    f["problem"].as_str().unwrap_or_default()
                );
            }
        }
        if key.is_none() {
            eprintln!("note: {env} did not load (see `torrust-bake check {env}`), so secret-bearing files were checked against SHA256SUMS.secret but not against their keyed digests");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn health(project: &Path, args: &HealthArgs) -> Result<ExitCode> {
    use crate::health;
    let (env, json) = (args.env.as_str(), args.json);
    let loaded = config::load(project, env, &config::process_env);
    let Some(config) = loaded.config else {
        return report_failure(&loaded.report, json);
    };
    let host = args
        .host
        .clone()
        .unwrap_or_else(|| health::default_host(&config));
    let opts = health::Options {
        host,
        timeout: args.timeout,
        monitoring: args.monitoring,
    };
    let checks = match args.wait {
        None => health::check_all(&config, &opts),
        Some(wait) => health::wait_for(&config, &opts, wait, &mut |round, checks, sleep| {
            let failing: Vec<String> = checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{} {}: {}", c.name, c.target, c.detail))
                .collect();
            eprintln!(
                "round {round}: {} of {} checks failing, retrying in {} ms ({})",
                failing.len(),
                checks.len(),
                sleep.as_millis(),
                failing.first().cloned().unwrap_or_default()
            );
        }),
    };
    let ok = checks.iter().all(|c| c.ok);
    if json {
        print_json(
            &serde_json::json!({ "env": env, "host": opts.host, "ok": ok, "checks": checks }),
        )?;
    } else {
        for c in &checks {
            let word = if c.skipped {
                "skip"
            } else if c.ok {
                "ok"
            } else {
                "FAIL"
            };
            println!(
                "{word:4}  {:16}  {:40}  {:>8.2} ms  {}",
                c.name, c.target, c.latency_ms, c.detail
            );
        }
        let failed = checks.iter().filter(|c| !c.ok).count();
        if ok {
            println!("{env}: healthy ({} checks)", checks.len());
        } else {
            println!("{env}: {failed} of {} checks failed", checks.len());
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn registry_client(args: &RegistryArgs, quiet: bool) -> images::registry::Client {
    use images::registry::{Client, Options};
    let progress: Box<dyn Fn(&str)> = if quiet {
        Box::new(|_| {})
    } else {
        Box::new(|line| eprintln!("{line}"))
    };
    Client::new(Options {
        insecure: args.insecure.clone(),
        timeout: args.timeout,
        progress,
        ..Options::default()
    })
}

/// Exit code for outcomes that failed to resolve: 1 when every failure is
/// the user's to fix (bad reference, 404, credentials), else 2.
fn failure_code(outcomes: &[images::pin::Outcome]) -> ExitCode {
    let failed = outcomes.iter().filter(|o| o.error.is_some());
    if failed.clone().all(|o| o.error_is_input) {
        ExitCode::from(1)
    } else {
        ExitCode::from(2)
    }
}

fn short(digest: &Option<images::Digest>) -> String {
    match digest {
        Some(d) => d.to_string(),
        None => "(unpinned)".into(),
    }
}

pub fn images_pin(project: &Path, pin: &PinArgs) -> Result<ExitCode> {
    let (services, args) = (&pin.services, &pin.registry);
    let (text, lock) = images::read_lock(project)?;
    let selected = images::pin::select(&lock, services)?;
    let mut client = registry_client(args, false);
    let outcomes =
        images::pin::resolve_all(&lock, &selected, &mut client, false, &|l| eprintln!("{l}"));
    let failed = outcomes.iter().any(|o| o.error.is_some());
    let mut written = false;
    if !failed {
        let new = images::pin::apply(&text, &outcomes)?;
        written = images::pin::write_lock(project, &new)?;
    }
    if args.json {
        print_json(&serde_json::json!({
            "ok": !failed, "written": written, "lock": images::LOCK_PATH, "images": outcomes,
        }))?;
    } else {
        for o in &outcomes {
            match (&o.error, o.matches()) {
                (Some(e), _) => eprintln!("{}: error: {e}", o.service),
                (None, true) => println!("{}: unchanged {}", o.service, short(&o.resolved)),
                (None, false) => println!(
                    "{}: {} -> {}",
                    o.service,
                    short(&o.locked),
                    short(&o.resolved)
                ),
            }
        }
        if failed {
            eprintln!(
                "{} was not changed: fix the errors above and pin again",
                images::LOCK_PATH
            );
        } else if written {
            println!("wrote {}", images::LOCK_PATH);
        } else {
            println!("{} already up to date", images::LOCK_PATH);
        }
    }
    Ok(if failed {
        failure_code(&outcomes)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn images_verify(project: &Path, args: &RegistryArgs) -> Result<ExitCode> {
    let (_, lock) = images::read_lock(project)?;
    let selected = images::pin::select(&lock, &[])?;
    let mut client = registry_client(args, false);
    let outcomes =
        images::pin::resolve_all(&lock, &selected, &mut client, true, &|l| eprintln!("{l}"));
    let errors = outcomes.iter().any(|o| o.error.is_some());
    let mismatches = outcomes
        .iter()
        .filter(|o| o.error.is_none() && !o.matches())
        .count();
    if args.json {
        print_json(&serde_json::json!({
            "ok": !errors && mismatches == 0, "lock": images::LOCK_PATH, "images": outcomes,
        }))?;
    } else {
        for o in &outcomes {
            if let Some(e) = &o.error {
                eprintln!("{}: error: {e}", o.service);
            } else if o.matches() {
                println!("{}: ok {}", o.service, short(&o.resolved));
            } else if o.locked.is_none() {
                println!(
                    "{}: MISMATCH: not pinned; {} is {}",
                    o.service,
                    o.reference,
                    short(&o.resolved)
                );
            } else if o.resolved != o.locked {
                let still = match o.locked_still_exists {
                    Some(true) => "; the locked digest can still be pulled",
                    Some(false) => "; the locked digest is gone from the registry: releases using it will not pull",
                    None => "",
                };
                println!(
                    "{}: MISMATCH: {} moved {} -> {}{still}",
                    o.service,
                    o.reference,
                    short(&o.locked),
                    short(&o.resolved)
                );
            } else {
                println!(
                    "{}: MISMATCH: platform digests differ from the index (locked {:?}, index {:?})",
                    o.service, o.locked_platforms, o.platforms
                );
            }
        }
        if mismatches > 0 {
            eprintln!(
                "{mismatches} image(s) differ from {}: run `torrust-bake images pin` to take the new digests (review the change first)",
                images::LOCK_PATH
            );
        }
    }
    Ok(if errors {
        failure_code(&outcomes)
    } else if mismatches > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn completions(args: &CompletionsArgs) -> Result<ExitCode> {
    use clap::CommandFactory as _;
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "torrust-bake", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

pub fn man() -> Result<ExitCode> {
    use clap::CommandFactory as _;
    clap_mangen::Man::new(crate::cli::Cli::command())
        .render(&mut std::io::stdout())
        .context("writing the man page")?;
    Ok(ExitCode::SUCCESS)
}

fn known_env(env: &str) -> Result<()> {
    match config::unknown_environment(env) {
        Some((message, fix)) => Err(Error::invalid(format!("{message}; {fix}")).into()),
        None => Ok(()),
    }
}

fn print_step(step: &libvirt::Step) {
    eprintln!(
        "{:>8.1} s  {:12} {}",
        step.ms as f64 / 1000.0,
        step.step,
        step.detail
    );
}

pub fn libvirt_up(project: &Path, args: &LibvirtUpArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    known_env(env)?;
    let release = args
        .release
        .as_deref()
        .map(str::parse::<Version>)
        .transpose()?;
    let (report, ok) = load_all(project, env);
    let Some((config, images)) = ok else {
        return report_failure(&report, json);
    };
    if !report.problems.is_empty() && !json {
        eprintln!("{report}");
    }
    let templates = render::Templates::load(project)?;
    let opts = libvirt::UpOptions {
        release,
        virsh: Virsh {
            uri: args.connect.clone(),
        },
        dry_run: args.dry_run,
        seed: match args.seed {
            LibvirtSeed::Iso => libvirt::SeedKind::Iso,
            LibvirtSeed::Img => libvirt::SeedKind::Img,
        },
    };
    let mut progress = |s: &libvirt::Step| {
        if !json {
            print_step(s)
        }
    };
    let out = libvirt::up(project, &config, &images, &templates, &opts, &mut progress)?;
    if json {
        print_json(&out)?;
    } else if out.dry_run {
        print!("{}", out.xml);
        println!(
            "{env}: dry run, nothing changed; `torrust-bake libvirt up {env}` would start {} (release {})",
            out.domain, out.version
        );
    } else if out.already_running {
        println!(
            "{env}: {} (release {}) is already running; console: {}",
            out.domain,
            out.version,
            out.console_log.display()
        );
    } else {
        println!(
            "{env}: started {} (release {}, {}); console: {}; `torrust-bake libvirt status {env}` shows its address",
            out.domain,
            out.version,
            out.domain_type.name(),
            out.console_log.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn libvirt_status(args: &LibvirtStatusArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    known_env(env)?;
    let virsh = Virsh {
        uri: args.connect.clone(),
    };
    let domains = libvirt::status(&virsh, env)?;
    if json {
        print_json(&serde_json::json!({ "env": env, "domains": domains }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if domains.is_empty() {
        println!("{env}: no domains (`torrust-bake libvirt up {env}` starts one)");
    }
    for d in &domains {
        let address = if d.addresses.is_empty() {
            "-".to_string()
        } else {
            d.addresses.join(",")
        };
        let path = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map_or("-".to_string(), |p| p.display().to_string())
        };
        println!(
            "{}  release {}  {}  address {}  console {}  data {}",
            d.domain,
            d.release,
            d.state,
            address,
            path(&d.console_log),
            path(&d.data_disk)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn libvirt_down(project: &Path, args: &LibvirtDownArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    known_env(env)?;
    // The config names the data disk even when no domain is left to; down
    // itself needs no valid config (it works from libvirt's records).
    let loaded = config::load(project, env, &config::process_env);
    let data_disk = loaded
        .config
        .as_ref()
        .and_then(libvirt::data_disk)
        .map(|d| d.path);
    if args.purge && loaded.config.is_none() {
        eprintln!("{}", loaded.report);
        eprintln!("{env}: the configuration has errors; only data disks of existing domains can be purged");
    }
    let opts = libvirt::DownOptions {
        virsh: Virsh {
            uri: args.connect.clone(),
        },
        shutdown_timeout: args.shutdown_timeout,
        purge: args.purge,
        data_disk,
    };
    let mut progress = |s: &libvirt::Step| {
        if !json {
            print_step(s)
        }
    };
    let (outcomes, data_disks) = libvirt::down(env, &opts, &mut progress)?;
    if json {
        print_json(&serde_json::json!({
            "env": env, "domains": outcomes, "data_disks": data_disks, "purged": args.purge,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if outcomes.is_empty() {
        println!("{env}: no domains");
    }
    for o in &outcomes {
        println!(
            "{env}: {} (release {}) stopped ({}) and undefined",
            o.domain, o.release, o.stop
        );
    }
    for d in &data_disks {
        if args.purge {
            println!("{env}: data disk {} deleted", d.display());
        } else {
            println!(
                "{env}: data disk {} kept for the next `libvirt up` (--purge deletes it)",
                d.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
