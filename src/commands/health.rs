//! `health`: the probes' results as a table or JSON.

use super::*;

pub fn health(project: &Path, args: &HealthArgs, json: bool) -> Result<ExitCode> {
    use crate::health;
    let env = args.env.as_str();
    // The probes need the API token, not the other secrets.
    let purpose = config::validate::Purpose::Probe;
    let loaded = config::load_for(project, env, &config::process_env, purpose);
    let Some(config) = loaded.config else {
        return report_failure(&loaded.report, json);
    };
    let hosts = match &args.host {
        Some(h) => vec![h.clone()],
        None => health::default_hosts(&config),
    };
    let ca = match &args.ca_file {
        Some(path) => Some(ca_file(path)?),
        None => None,
    };
    if ca.is_some() && config.domain_name.is_none() {
        errln!("warning: --ca-file changes nothing: {env} has no DOMAIN_NAME, so nothing is checked over HTTPS");
    }
    let opts = health::Options {
        hosts,
        timeout: args.timeout,
        monitoring: args.monitoring,
        ca,
    };
    // Human output shows each check as it finishes (a run takes seconds
    // when a port is silent); with --wait only the last round counts, so
    // its table follows the rounds' progress; --json is one document.
    let streamed = !json && args.wait.is_none();
    let checks = match args.wait {
        None if streamed => health::check_each(&config, &opts, &mut |c| print_check(c)),
        None => health::check_all(&config, &opts),
        Some(wait) => health::wait_for(&config, &opts, wait, &mut |round, checks, sleep| {
            let failing: Vec<String> = checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{} {}: {}", c.name, c.target, c.detail))
                .collect();
            errln!(
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
            &serde_json::json!({ "env": env, "host": opts.hosts[0], "hosts": opts.hosts, "ok": ok, "checks": checks }),
        )?;
    } else {
        if !streamed {
            checks.iter().for_each(print_check);
        }
        let failed = checks.iter().filter(|c| !c.ok).count();
        if ok {
            outln!("{env}: healthy ({} checks)", checks.len());
        } else {
            outln!("{env}: {failed} of {} checks failed", checks.len());
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One line of the table: the check's details are fit to print already
/// (`health` hides the token and a server's control characters).
fn print_check(c: &crate::health::Check) {
    let word = if c.skipped {
        "skip"
    } else if c.ok {
        "ok"
    } else {
        "FAIL"
    };
    outln!(
        "{word:4}  {:16}  {:40}  {:>8.2} ms  {}",
        c.name,
        c.target,
        c.latency_ms,
        c.detail
    );
}

/// The CA certificates of `--ca-file`.
fn ca_file(path: &Path) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    let bad = |(message, fix): (String, String)| {
        crate::error::Error::invalid(format!("--ca-file {}: {message}; {fix}", path.display()))
    };
    // (Any file the operator names, links too, as /etc/ssl/certs holds.)
    let text = std::fs::read_to_string(path).map_err(|e| {
        crate::error::Error::invalid(format!(
            "--ca-file {}: cannot read it: {e}; name a PEM file of CA certificates",
            path.display()
        ))
    })?;
    Ok(config::ca_pem::certificates(&text).map_err(bad)?)
}
