//! CONTAINER_REGISTRY_CA_FILE: the private registry's CA certificate, read
//! from the project directory once the values are valid (validation alone
//! does not know the directory) and carried in the config, so the release
//! is made from what was checked.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::load::RawValues;
use super::report::{Problem, Report};
use super::vars::VarId::CONTAINER_REGISTRY_CA_FILE;
use super::Config;

/// A CA bundle is a few certificates; anything larger is the wrong file.
const MAX_CA_FILE: u64 = 256 * 1024;

/// Reads the CA file into `config.registry`, or reports why it cannot be
/// used (and drops the config: the release would not trust the registry).
pub fn attach(project: &Path, raw: &RawValues, config: &mut Option<Config>, report: &mut Report) {
    let Some(c) = config.as_mut() else { return };
    let Some(trust) = c.registry.as_mut() else {
        return;
    };
    let rel = &raw[CONTAINER_REGISTRY_CA_FILE].value;
    if rel.is_empty() {
        return;
    }
    match read(&project.join(rel)) {
        Ok(pem) => trust.ca_pem = Some(pem),
        Err((message, fix)) => {
            let source = raw[CONTAINER_REGISTRY_CA_FILE].source.clone();
            let name = Some(CONTAINER_REGISTRY_CA_FILE.name().to_string());
            report.push(Problem::error(
                name,
                source,
                format!("{rel}: {message}"),
                &fix,
            ));
            *config = None;
        }
    }
}

fn read(path: &Path) -> Result<String, (String, String)> {
    let fix = "give the PEM file of the CA that signed the registry's certificate (-----BEGIN CERTIFICATE-----)";
    let meta =
        std::fs::metadata(path).map_err(|e| (format!("cannot read it: {e}"), fix.to_string()))?;
    if !meta.is_file() || meta.len() > MAX_CA_FILE {
        return Err((
            "is not a regular file of at most 256 KiB".into(),
            fix.into(),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| (format!("cannot read it: {e}"), fix.to_string()))?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    match certs {
        Ok(c) if !c.is_empty() => {}
        Ok(_) => return Err(("holds no PEM certificate".into(), fix.into())),
        Err(e) => return Err((format!("is not valid PEM: {e}"), fix.into())),
    }
    String::from_utf8(bytes).map_err(|_| ("is not text".into(), fix.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pem_certificates_pass() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate\n").unwrap();
        assert_eq!(read(&p).unwrap_err().0, "holds no PEM certificate");
        std::fs::write(
            &p,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(read(&p).unwrap_err().0.starts_with("is not valid PEM"));
        let pem = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
        std::fs::write(&p, pem).unwrap();
        assert_eq!(read(&p).unwrap(), pem);
        assert!(read(&dir.path().join("missing.pem"))
            .unwrap_err()
            .0
            .starts_with("cannot read it"));
    }
}
