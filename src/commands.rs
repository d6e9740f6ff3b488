//! The commands `check`, `show`, `build`, `diff` and `health`: glue between
//! config, images, render, bundle, health and the terminal. Human output goes to stdout,
//! progress and problems to stderr; `--json` puts one JSON document on stdout.

use std::fmt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::bundle::{self, Written};
use crate::config::{self, vars, Config, Report};
use crate::images::{self, ResolvedImage};
use crate::render::{self, SecretContext};

/// An error caused by the user's input (exit code 1).
#[derive(Debug)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

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

pub fn check(project: &Path, env: &str, json: bool) -> Result<ExitCode> {
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

pub fn show(project: &Path, env: &str, json: bool) -> Result<ExitCode> {
    let loaded = config::load(project, env, &config::process_env);
    let Some(raw) = loaded.raw else {
        return report_failure(&loaded.report, json);
    };
    let shown: Vec<ShownVar> = vars::VARS
        .iter()
        .map(|v| {
            let r = &raw[v.name];
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
}

/// The boot artifacts of a release: user-data, meta-data, network-config
/// and the NoCloud seeds. Fails (exit 1) when a Hetzner user-data is over
/// the limit, naming the files that weigh most.
fn boot_artifacts(
    project: &Path,
    config: &Config,
    templates: &render::Templates,
    release: &bundle::Release,
    archive: &crate::cloudinit::Archive,
    seed_formats: &[crate::cli::SeedFormat],
) -> Result<Vec<bundle::Artifact>> {
    use crate::cloudinit::{self, HETZNER_USER_DATA_LIMIT};
    use crate::seed::{self, SeedFile};
    let ci = cloudinit::generate(
        config,
        templates,
        &release.files,
        archive,
        &release.manifest.version,
    )?;
    let size = ci.user_data.len() as u64;
    if config.provider == "hetzner" && size > HETZNER_USER_DATA_LIMIT {
        let top: Vec<String> = cloudinit::largest_contributors(release, 5)
            .into_iter()
            .map(|(path, gz)| format!("{path} ({gz} bytes gzip'd)"))
            .collect();
        return Err(Invalid(format!(
            "user-data is {size} bytes, over Hetzner's limit of {HETZNER_USER_DATA_LIMIT}; the largest contributors: {}; shrink them (templates/) or drop optional services",
            top.join(", ")
        ))
        .into());
    }
    let mut seed_files = vec![
        SeedFile {
            name: "meta-data".into(),
            bytes: ci.meta_data.clone().into_bytes(),
            secret: false,
        },
        SeedFile {
            name: "user-data".into(),
            bytes: ci.user_data.clone().into_bytes(),
            secret: true,
        },
    ];
    if let Some(n) = &ci.network_config {
        seed_files.push(SeedFile {
            name: "network-config".into(),
            bytes: n.clone().into_bytes(),
            secret: false,
        });
    }
    let mut out: Vec<bundle::Artifact> = seed_files
        .iter()
        .map(|f| bundle::Artifact {
            name: f.name.clone(),
            bytes: f.bytes.clone(),
            mode: if f.secret { 0o600 } else { 0o644 },
        })
        .collect();
    let secret = |name: &str, bytes: Vec<u8>| bundle::Artifact {
        name: name.into(),
        bytes,
        mode: 0o600,
    };
    out.push(secret(
        "seed.iso",
        seed::iso9660::build("cidata", &seed_files)?,
    ));
    let img = seed::fat::build("CIDATA", &seed_files)?;
    if seed_formats.contains(&crate::cli::SeedFormat::Qcow2) {
        let scratch = project.join("releases").join(&config.env);
        bundle::mkdir_private(&scratch)?;
        out.push(secret("seed.qcow2", seed::qcow2::from_raw(&img, &scratch)?));
    }
    out.push(secret("seed.img", img));
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub fn build(
    project: &Path,
    env: &str,
    seed_formats: &[crate::cli::SeedFormat],
    json: bool,
) -> Result<ExitCode> {
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
    let files = render::render(&templates, &config, &images, &SecretContext::real(&config))?;
    let redacted: Vec<_> = render::render(
        &templates,
        &config,
        &images,
        &SecretContext::redacted(&config),
    )?
    .into_iter()
    .filter(|f| f.secret)
    .collect();
    let archive = crate::cloudinit::Archive::new(&files)?;
    let versioned = crate::cloudinit::version_inputs(&config, &templates, &files, &archive)?;
    let mut release = bundle::assemble(env, files, redacted, &images, &versioned)?;
    let artifacts = boot_artifacts(
        project,
        &config,
        &templates,
        &release,
        &archive,
        seed_formats,
    )?;
    release.attach(artifacts, crate::cloudinit::HETZNER_USER_DATA_LIMIT)?;
    let releases = project.join("releases");
    let (path, written) = bundle::write_release(&releases, &release)?;
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
        version: &release.manifest.version,
        path: shown_path.display().to_string(),
        files: release.files.len(),
        bundle_bytes: release.tarball.len(),
        user_data_bytes: ci_info.user_data_bytes,
        user_data_limit: ci_info.user_data_limit,
        artifacts: release.artifacts.iter().map(|a| a.name.clone()).collect(),
        unchanged: written == Written::Unchanged,
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
        if out.unchanged {
            println!("{env} release {} is unchanged: {}", out.version, out.path);
        } else {
            println!("built {env} release {}: {}", out.version, out.path);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn diff(project: &Path, env: &str, from: &str, to: &str, json: bool) -> Result<ExitCode> {
    if let Some((message, fix)) = config::unknown_environment(env) {
        return Err(Invalid(format!("{message}; {fix}")).into());
    }
    let dir = project.join("releases").join(env);
    let changes = crate::diff::diff_releases(&dir.join(from), &dir.join(to))?;
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

pub fn health(
    project: &Path,
    env: &str,
    host: Option<String>,
    wait: Option<std::time::Duration>,
    timeout: std::time::Duration,
    monitoring: bool,
    json: bool,
) -> Result<ExitCode> {
    use crate::health;
    let loaded = config::load(project, env, &config::process_env);
    let Some(config) = loaded.config else {
        return report_failure(&loaded.report, json);
    };
    let host = host.unwrap_or_else(|| health::default_host(&config));
    let opts = health::Options {
        host,
        timeout,
        monitoring,
    };
    let checks = match wait {
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

fn registry_client(args: &crate::cli::RegistryArgs, quiet: bool) -> images::registry::Client {
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

fn short(digest: &Option<String>) -> String {
    match digest {
        Some(d) => d.clone(),
        None => "(unpinned)".into(),
    }
}

pub fn images_pin(
    project: &Path,
    services: &[String],
    args: &crate::cli::RegistryArgs,
) -> Result<ExitCode> {
    let (text, lock) = images::read_lock(project)?;
    let selected = images::pin::select(&lock, services)?;
    let mut client = registry_client(args, false);
    let outcomes =
        images::pin::resolve_all(&lock, &selected, &mut client, false, &|l| eprintln!("{l}"));
    let failed = outcomes.iter().any(|o| o.error.is_some());
    let mut written = false;
    if !failed {
        let new = images::pin::apply(&lock, &outcomes);
        written = images::pin::write_lock(project, &new.render(&images::header_of(&text)))?;
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

pub fn images_verify(project: &Path, args: &crate::cli::RegistryArgs) -> Result<ExitCode> {
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
