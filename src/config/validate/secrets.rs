//! Secret rules: no stray white space or control characters anywhere; in
//! strict environments a real value from the process environment: set, not
//! the built-in local default, not a placeholder, long enough, never read
//! from a committed environment file.

use super::Checker;
use crate::config::load::{Raw, Source};
use crate::config::vars::{Kind, Var, PLACEHOLDERS, VARS};

pub(super) fn check(c: &mut Checker) {
    for var in &VARS {
        let Kind::Secret { min_len } = var.kind else {
            continue;
        };
        let raw = c.raw(var.id).clone();
        if raw.value.is_empty() || !c.secret_needed(var.id) {
            continue; // required-ness is checked where the secret is needed
        }
        well_formed(c, var, &raw);
        if c.env.is_strict() {
            strong(c, var, &raw, min_len);
        }
    }
}

fn well_formed(c: &mut Checker, var: &Var, raw: &Raw) {
    if raw.value.trim() != raw.value {
        c.fail(
            var.id,
            "starts or ends with white space, which the services would trim".into(),
            "remove the leading and trailing spaces or newlines",
        );
    }
    if raw.value.chars().any(|ch| ch.is_control() && ch != '\n') {
        c.fail(
            var.id,
            "contains a control character other than newline".into(),
            "generate the secret with `openssl rand -base64 33`",
        );
    }
}

fn strong(c: &mut Checker, var: &Var, raw: &Raw, min_len: usize) {
    let env = c.env.to_string();
    if raw.source == Source::Default {
        c.fail(
            var.id,
            format!("is not set, and {env} may not use the built-in local default"),
            &format!("run `torrust-bake secrets init {env}`, or export {}=\"$(openssl rand -base64 33)\" (never commit it)", var.name),
        );
        return;
    }
    let lower = raw.value.to_ascii_lowercase();
    let length = raw.value.chars().count();
    if PLACEHOLDERS.contains(&lower.as_str()) || lower.contains("changeme") {
        c.fail(
            var.id,
            "is a placeholder value".into(),
            "replace it with a generated secret: openssl rand -base64 33",
        );
    } else if length < min_len {
        c.fail(
            var.id,
            format!("is {length} characters long; {env} needs at least {min_len}"),
            "generate a longer one: openssl rand -base64 33",
        );
    }
    if matches!(raw.source, Source::File { .. }) {
        c.fail(
            var.id,
            "is a secret written in a committed environment file".into(),
            "move the line to the secrets file (`torrust-bake secrets path <env>`) or the process environment",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{about, config, run, run_in};
    use crate::config::vars::VarId::*;

    #[test]
    fn local_takes_the_built_in_defaults() {
        assert_eq!(config(&[]).secrets.api_token, "MyAccessToken");
    }

    #[test]
    fn strict_environments_refuse_defaults() {
        let (config, r) = run("production", &[]);
        assert!(config.is_none());
        let got = about(&r, TORRUST_TRACKER_API_TOKEN);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with(
            "Error: is not set, and production may not use the built-in local default | run `torrust-bake secrets init production`, or export TORRUST_TRACKER_API_TOKEN="
        ));
    }

    #[test]
    fn strict_environments_refuse_weak_secrets_and_secrets_in_files() {
        let (_, r) = run("staging", &[(TORRUST_TRACKER_API_TOKEN, "changeme")]);
        let got = about(&r, TORRUST_TRACKER_API_TOKEN);
        assert!(
            got[0].starts_with("Error: is a placeholder value |"),
            "{got:?}"
        );
        assert!(got[1].starts_with(
            "Error: is a secret written in a committed environment file | move the line to the secrets file"
        ));
        let (_, r) = run("staging", &[(GRAFANA_ADMIN_PASSWORD, &"x".repeat(15))]);
        let got = about(&r, GRAFANA_ADMIN_PASSWORD);
        assert!(
            got[0].contains("is 15 characters long; staging needs at least 16"),
            "{got:?}"
        );
        // Boundary: 16 characters pass the length rule (only the file rule fails).
        let (_, r) = run("staging", &[(GRAFANA_ADMIN_PASSWORD, &"x".repeat(16))]);
        assert_eq!(about(&r, GRAFANA_ADMIN_PASSWORD).len(), 1);
    }

    /// Strictness, not the name, decides: an environment declared strict
    /// gets production's rules, one declared lenient local's defaults.
    #[test]
    fn declared_environments_follow_their_strictness() {
        use crate::config::{Environment, Source, Strictness};
        let declared = |s| Environment::declared("qa", s, Source::Default);
        let (config, r) = run_in(&declared(Strictness::Strict), &[]);
        assert!(config.is_none());
        let got = about(&r, TORRUST_BAKE_RELEASE_KEY);
        assert!(
            got[0].starts_with("Error: is not set, and qa may not use the built-in local default"),
            "{got:?}"
        );
        let (config, r) = run_in(&declared(Strictness::Lenient), &[]);
        assert_eq!(config.unwrap().secrets.api_token, "MyAccessToken", "{r}");
    }

    #[test]
    fn stray_white_space_is_refused_everywhere() {
        let (_, r) = run("local", &[(GRAFANA_ADMIN_PASSWORD, " padded")]);
        assert_eq!(
            about(&r, GRAFANA_ADMIN_PASSWORD),
            vec!["Error: starts or ends with white space, which the services would trim | remove the leading and trailing spaces or newlines | environments/local.env:1"]
        );
    }
}
