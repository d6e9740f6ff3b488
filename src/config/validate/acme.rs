//! ACME rules: a custom directory (ACME_CA_URL) is an https:// URL with a
//! host and no login, and belongs to an environment with a domain; its
//! root CA file (ACME_CA_ROOT_FILE) belongs to a custom directory. The
//! file's content is checked when it is read (`config/ca_files.rs`).

use super::Checker;
use crate::config::model::Acme;
use crate::config::vars::VarId::*;

pub(super) fn check(c: &mut Checker) {
    if let Some(url) = c.opt(ACME_CA_URL) {
        if let Err(why) = directory(&url) {
            c.fail(
                ACME_CA_URL,
                why,
                "write the directory's https:// URL, as the CA documents it (Let's Encrypt's staging: https://acme-staging-v02.api.letsencrypt.org/directory)",
            );
        }
        if !c.is_set(DOMAIN_NAME) {
            c.warn(
                ACME_CA_URL,
                "changes nothing without DOMAIN_NAME (no Caddy, no certificate)".into(),
                "set DOMAIN_NAME, or remove ACME_CA_URL",
            );
        }
    } else if c.is_set(ACME_CA_ROOT_FILE) {
        c.warn(
            ACME_CA_ROOT_FILE,
            "changes nothing without ACME_CA_URL (Let's Encrypt is trusted as it is)".into(),
            "set ACME_CA_URL to the private directory, or remove ACME_CA_ROOT_FILE",
        );
    }
}

/// Why `url` is no ACME directory Caddy can use.
fn directory(url: &str) -> Result<(), String> {
    let u = url::Url::parse(url).map_err(|e| format!("'{url}' is not a URL ({e})"))?;
    if u.scheme() != "https" {
        return Err(format!(
            "is {}:, and ACME is spoken over https only",
            u.scheme()
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("names no host".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(
            "carries a login: an ACME directory takes none (its account is SSL_EMAIL)".into(),
        );
    }
    // Caddy reads the global option as one token.
    if url
        .chars()
        .any(|ch| ch.is_whitespace() || matches!(ch, '"' | '\'' | '{' | '}' | '#'))
    {
        return Err("holds white space, a quote, a brace or a #".into());
    }
    Ok(())
}

pub(super) fn build(c: &Checker) -> Option<Acme> {
    c.opt(DOMAIN_NAME)?;
    c.opt(ACME_CA_URL).map(|url| Acme {
        url,
        root_pem: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{about, config, run};
    use super::*;

    #[test]
    fn a_directory_is_an_https_url() {
        assert_eq!(
            directory("https://acme.internal:9000/acme/acme/directory"),
            Ok(())
        );
        for (url, why) in [
            ("http://acme.internal/directory", "https only"),
            ("acme.internal/directory", "not a URL"),
            ("https://u:p@acme.internal/dir", "carries a login"),
            ("https://acme.internal/a#b", "a #"),
        ] {
            let e = directory(url).unwrap_err();
            assert!(e.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn a_directory_belongs_to_a_domain_and_a_root_to_a_directory() {
        let (c, r) = run("local", &[(ACME_CA_URL, "https://acme.internal/dir")]);
        assert!(c.expect("a warning only").acme.is_none());
        assert_eq!(
            about(&r, ACME_CA_URL),
            ["Warning: changes nothing without DOMAIN_NAME (no Caddy, no certificate) | set DOMAIN_NAME, or remove ACME_CA_URL | environments/local.env:1"]
        );
        let (_, r) = run("local", &[(ACME_CA_ROOT_FILE, "acme/root.pem")]);
        assert_eq!(about(&r, ACME_CA_ROOT_FILE).len(), 1);
        let c = config(&[
            (DOMAIN_NAME, "tracker.torrust-demo.com"),
            (SSL_EMAIL, "ops@torrust-demo.com"),
            (ACME_CA_URL, "https://acme.internal/dir"),
        ]);
        assert_eq!(
            c.acme.map(|a| a.url).as_deref(),
            Some("https://acme.internal/dir")
        );
    }
}
