//! CONTAINER_REGISTRY_CA_FILE: the private registry's CA certificate, read
//! from the project directory once the values are valid (validation alone
//! does not know the directory) and carried in the config, so the release
//! is made from what was checked.

use std::path::Path;

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
    let fix = "give the PEM file of the CA that signed the registry's certificate (-----BEGIN CERTIFICATE----- sections only)";
    let err = |m: String| (m, fix.to_string());
    // Not followed: a link could lead out of the project directory.
    let meta = std::fs::symlink_metadata(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    if !meta.is_file() || meta.len() > MAX_CA_FILE {
        return Err(err(
            "is not a regular file (nor a symbolic link) of at most 256 KiB".into(),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    let mut reader = bytes.as_slice();
    let mut certs = 0;
    loop {
        match rustls_pki_types::pem::from_buf(&mut reader) {
            Ok(None) => break,
            // Anything else would ride along into a world-readable file: a
            // private key pasted into the same file must never reach the VM.
            Ok(Some((rustls_pki_types::pem::SectionKind::Certificate, der))) => {
                let der = CertificateDer::from(der);
                webpki::anchor_from_trusted_cert(&der)
                    .map_err(|e| err(format!("certificate {} is not X.509: {e:?}", certs + 1)))?;
                certs += 1;
            }
            Ok(Some((kind, _))) => {
                return Err(err(format!(
                    "holds a {kind:?} section; only certificates may go to the VM"
                )))
            }
            Err(e) => return Err(err(format!("is not valid PEM: {e}"))),
        }
    }
    if certs == 0 {
        return Err(err("holds no PEM certificate".into()));
    }
    String::from_utf8(bytes).map_err(|_| err("is not text".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pem_certificates_pass() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        let bad = |text: &str| {
            std::fs::write(&p, text).unwrap();
            read(&p).unwrap_err().0
        };
        assert_eq!(bad("not a certificate\n"), "holds no PEM certificate");
        assert!(
            bad("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
                .starts_with("is not valid PEM")
        );
        // Well-formed base64, not a certificate.
        assert!(
            bad("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n")
                .starts_with("certificate 1 is not X.509")
        );
        assert!(
            bad("-----BEGIN PRIVATE KEY-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n")
                .contains("only certificates may go to the VM")
        );
        assert!(read(&dir.path().join("missing.pem"))
            .unwrap_err()
            .0
            .starts_with("cannot read it"));
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link.pem")).unwrap();
        assert!(read(&dir.path().join("link.pem"))
            .unwrap_err()
            .0
            .contains("symbolic link"));
    }
}
