//! `build`, `diff` and `verify`: releases.

use super::*;

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
    /// The image lock the images came from.
    image_lock: &'a str,
    unchanged: bool,
    /// Files of an existing copy of this release that did not match its
    /// checksums; it was written again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    repaired: Vec<release::verify::Finding>,
    /// The warnings the configuration had (a build stops on errors).
    problems: Vec<config::report::ProblemJson<'a>>,
}

/// What `build` says to a person: progress on stderr, the result on stdout.
fn print_build(out: &BuildOutput, secrets: usize, ms: u128) {
    errln!(
        "rendered {} files ({secrets} secret, 0600), bundle.tar.zst {} bytes, in {ms} ms",
        out.files,
        out.bundle_bytes,
    );
    let seeds: Vec<&str> = out
        .artifacts
        .iter()
        .filter(|a| a.starts_with("seed."))
        .map(String::as_str)
        .collect();
    errln!(
        "user-data {} bytes: {:.0}% of Hetzner's {} KiB limit; seeds: {}",
        out.user_data_bytes,
        out.user_data_bytes as f64 * 100.0 / out.user_data_limit as f64,
        out.user_data_limit / 1024,
        seeds.join(", ")
    );
    for f in &out.repaired {
        errln!("warning: {}: {} in the existing copy", f.path, f.problem);
    }
    if let Some(own) = images::env_lock::own_lock(out.image_lock) {
        errln!("images from {own}, {}'s own lock", out.env);
    }
    let env = out.env;
    if !out.repaired.is_empty() {
        outln!(
            "{env} release {} on disk did not match its checksums ({} files); wrote it again: {}",
            out.version,
            out.repaired.len(),
            out.path
        );
    } else if out.unchanged {
        outln!("{env} release {} is unchanged: {}", out.version, out.path);
    } else {
        outln!("built {env} release {}: {}", out.version, out.path);
    }
}

pub fn build(project: &Path, args: &BuildArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    let started = Instant::now();
    let (report, ok) = load_all(project, env);
    let Some((config, images)) = ok else {
        let code = report_failure(&report, json)?;
        if !json {
            errln!("build: nothing was written");
        }
        return Ok(code);
    };
    if !report.problems.is_empty() && !json {
        errln!("{report}");
    }
    let templates = render::Templates::load(project)?;
    if !args.seed_formats.is_empty() && !json {
        errln!("note: --seed-format is no longer needed: every seed format (seed.iso, seed.img, seed.qcow2) is always written");
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
        image_lock: &images.lock,
        unchanged: written == Written::Unchanged,
        repaired: match written {
            Written::Repaired(findings) => findings,
            _ => Vec::new(),
        },
        problems: report.json(),
    };
    if json {
        print_json(&out)?;
    } else {
        let secrets = release.files.iter().filter(|f| f.secret).count();
        print_build(&out, secrets, started.elapsed().as_millis());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn diff(project: &Path, args: &DiffArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    env_with_releases(project, env)?;
    // Parsed, so that `../x` cannot name a directory outside releases/<env>.
    let from = version_or_prefix(project, env, &args.from)?;
    let to = version_or_prefix(project, env, &args.to)?;
    let dir = release::store::env_dir(project, env);
    let changes = crate::diff::diff_releases(&dir.join(&from), &dir.join(&to))?;
    if json {
        print_json(&serde_json::json!({
            "env": env, "from": from, "to": to, "changes": changes,
        }))?;
    } else if changes.is_empty() {
        outln!("{env}: {from} and {to} have the same files");
    } else {
        for c in &changes {
            outln!("{c}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A stored release named by its version or a unique prefix of it (at
/// least 4 hex digits), as git takes a commit's.
fn version_or_prefix(project: &Path, env: &str, given: &str) -> Result<Version> {
    if let Ok(v) = given.parse::<Version>() {
        return Ok(v);
    }
    let hex = given.len() >= 4 && given.chars().all(|c| c.is_ascii_hexdigit());
    if !hex {
        // The parse error says what a version looks like.
        return Err(given.parse::<Version>().unwrap_err().into());
    }
    let found: Vec<String> = release::store::list(project, env)?
        .into_iter()
        .filter(|v| v.starts_with(given))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.parse()?),
        [] => Err(Error::new(
            crate::error::Kind::NotFound,
            format!("no release of {env} starts with {given} (`torrust-bake releases list {env}` shows them)"),
        )
        .into()),
        many => Err(Error::invalid(format!(
            "{given} is ambiguous: {} releases of {env} start with it ({}); give more digits",
            many.len(),
            many.join(", ")
        ))
        .into()),
    }
}

pub fn verify(project: &Path, args: &VerifyArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    env_with_releases(project, env)?;
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
    let key_differs = format!(
        "the release key differs from the one this release was built with, or every secret-bearing file and the manifest were edited: no keyed digest matches under TORRUST_BAKE_RELEASE_KEY; with the key it was built with, `torrust-bake verify {env}` checks it"
    );
    let fix = format!(
        "rebuilding with the same inputs (`torrust-bake build {env}`, same environment file, secrets, image lock and release key) writes the release again"
    );
    let unkeyed = format!(
        "{env} did not load (see `torrust-bake check {env}`), so the release key (TORRUST_BAKE_RELEASE_KEY) was not at hand: only accidental damage is detected; a file edited together with its lines in SHA256SUMS and manifest.json passes"
    );
    let mut results = Vec::new();
    for v in &versions {
        let report = release::verify::check(&dir.join(v), key.as_ref())?;
        let ok = report.findings.is_empty();
        let mut r = serde_json::json!({ "version": v, "ok": ok, "findings": report.findings });
        if report.key_differs {
            r["key_differs"] = serde_json::Value::Bool(true);
            r["summary"] = key_differs.clone().into();
        }
        if !ok {
            r["fix"] = fix.clone().into();
        }
        results.push(r);
    }
    let ok = results.iter().all(|r| r["ok"] == true);
    if json {
        let mut doc = serde_json::json!({ "env": env, "ok": ok, "keyed": key.is_some(), "releases": results });
        if key.is_none() {
            doc["note"] = unkeyed.clone().into();
        }
        print_json(&doc)?;
    } else {
        for r in &results {
            let findings = r["findings"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if findings.is_empty() {
                outln!("{env} {}: ok", r["version"].as_str().unwrap_or_default());
            }
            // One line that explains the many below (a wrong key fails
            // every keyed digest, each ending "(or the key changed)").
            if r["key_differs"] == true {
                outln!(
                    "{env} {}: {key_differs}",
                    r["version"].as_str().unwrap_or_default()
                );
            }
            for f in findings {
                outln!(
                    "{env} {}: {}: {}",
                    r["version"].as_str().unwrap_or_default(),
                    f["path"].as_str().unwrap_or_default(),
                    f["problem"].as_str().unwrap_or_default()
                );
            }
        }
        if !ok {
            outln!("{fix}");
        }
        if key.is_none() {
            errln!("note: {unkeyed}");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
