//! A CA certificate file that goes to the VM as is
//! (`CONTAINER_REGISTRY_CA_FILE`, `ACME_CA_ROOT_FILE`: `ca_files.rs`):
//! PEM `CERTIFICATE` sections (RFC 7468 §5) and blank lines between them,
//! nothing else. The file lands world-readable and its plain SHA-256 is
//! published, so whatever surrounds the certificates (a private key pasted
//! below them, `db_password=...` notes, another PEM section) would ship as
//! a public file: such a file is refused, naming the line, rather than
//! cleaned up (an operator who pasted a key there must know it).

use std::path::Path;

use base64::Engine as _;
use rustls_pki_types::CertificateDer;

/// A CA bundle is a few certificates; anything larger is the wrong file.
const MAX_CA_FILE: u64 = 256 * 1024;

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// What is wrong with a file, and the fix.
pub type Problem = (String, String);

/// The fix of any content problem: what the file may hold.
pub const KEEP_ONLY_CERTIFICATES: &str = "keep only the CA certificates in the file: its -----BEGIN CERTIFICATE----- to -----END CERTIFICATE----- blocks, blank lines between them at most (`openssl x509 -in FILE -out ca.pem` writes one such block); a private key never goes in it";

/// The file at `path`, read once: a regular file (not followed if a link:
/// it could lead out of the project directory) of at most 256 KiB that
/// [`check`] accepts. Returns its text, to be shipped as is.
pub fn read(path: &Path) -> Result<String, Problem> {
    let fix = "give the PEM file of the CA that signed the server's certificate (-----BEGIN CERTIFICATE----- sections only)";
    let err = |m: String| (m, fix.to_string());
    let meta = std::fs::symlink_metadata(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    if !meta.is_file() || meta.len() > MAX_CA_FILE {
        return Err(err(
            "is not a regular file (nor a symbolic link) of at most 256 KiB".into(),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| err("is not text".into()))?;
    check(&text)?;
    Ok(text)
}

/// How many certificates `text` holds, when it holds certificates and
/// blank lines only, each certificate X.509 as a TLS client would trust it
/// (webpki reads it as a trust anchor). A problem names the line but never
/// quotes it: the line may be a secret.
pub fn check(text: &str) -> Result<usize, Problem> {
    certificates(text).map(|c| c.len())
}

/// The certificates of `text`, held to [`check`]'s rule (`health
/// --ca-file` trusts them).
pub fn certificates(text: &str) -> Result<Vec<CertificateDer<'static>>, Problem> {
    let bad = |m: String| Err((m, KEEP_ONLY_CERTIFICATES.to_string()));
    // The line a certificate began on, and its base64 so far.
    let mut open: Option<(usize, String)> = None;
    let mut found = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        match open.as_mut() {
            None if line.is_empty() => {}
            None if line == BEGIN => open = Some((n, String::new())),
            None if line.starts_with("-----BEGIN ") => {
                return bad(format!(
                    "line {n} begins {} section; only certificates may go to the VM",
                    section_label(line)
                ))
            }
            None => {
                return bad(format!(
                    "line {n} is not part of a certificate; only certificates may go to the VM"
                ))
            }
            Some((from, b64)) if line == END => {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|_| {
                        (
                            format!("the certificate of lines {from}-{n} is not valid base64"),
                            KEEP_ONLY_CERTIFICATES.to_string(),
                        )
                    })?;
                let der = CertificateDer::from(der);
                webpki::anchor_from_trusted_cert(&der).map_err(|e| {
                    (
                        format!(
                            "certificate {} (lines {from}-{n}) is not X.509: {e:?}",
                            found.len() + 1
                        ),
                        KEEP_ONLY_CERTIFICATES.to_string(),
                    )
                })?;
                found.push(der);
                open = None;
            }
            Some((from, _)) if line.starts_with("-----") => {
                return bad(format!(
                    "line {n} is inside the certificate that begins on line {from}, which has no -----END CERTIFICATE----- before it"
                ))
            }
            Some((from, b64)) => {
                let base64 = !line.is_empty()
                    && line
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
                if !base64 {
                    return bad(format!(
                        "line {n}, in the certificate that begins on line {from}, is not base64"
                    ));
                }
                b64.push_str(line);
            }
        }
    }
    if let Some((from, _)) = open {
        return bad(format!(
            "the certificate that begins on line {from} has no -----END CERTIFICATE-----"
        ));
    }
    if found.is_empty() {
        return bad("holds no PEM certificate".into());
    }
    Ok(found)
}

/// "a PRIVATE KEY", "an OPENSSH PRIVATE KEY": a label is printed only when
/// it looks like one (capitals, digits, spaces), never other text.
fn section_label(line: &str) -> String {
    let label = line
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .filter(|l| {
            !l.is_empty()
                && l.len() <= 40
                && l.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
        });
    match label {
        Some(l) if l.starts_with(['A', 'E', 'I', 'O', 'U']) => format!("an {l}"),
        Some(l) => format!("a {l}"),
        None => "another kind of PEM".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate webpki accepts is made by openssl in tests/services.rs;
    /// here, every way a file can hold something else.
    fn err(text: &str) -> String {
        check(text).unwrap_err().0
    }

    #[test]
    fn anything_but_certificates_names_its_line_not_its_text() {
        assert_eq!(
            err("not a certificate\n"),
            "line 1 is not part of a certificate; only certificates may go to the VM"
        );
        let leak = "\n\ndb_password=hunter2-secret\n";
        assert!(!err(leak).contains("hunter2"));
        assert!(err(leak).starts_with("line 3 is not part"));
        assert_eq!(
            err("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"),
            "line 1 begins an OPENSSH PRIVATE KEY section; only certificates may go to the VM"
        );
        assert_eq!(
            err("-----BEGIN PRIVATE KEY-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n"),
            "line 1 begins a PRIVATE KEY section; only certificates may go to the VM"
        );
        assert!(err("-----BEGIN x=secret-----\n").contains("begins another kind of PEM section"));
        assert_eq!(err(""), "holds no PEM certificate");
        assert_eq!(err("\n \n"), "holds no PEM certificate");
        assert!(
            err("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
                .starts_with("line 2, in the certificate that begins on line 1, is not base64")
        );
        assert_eq!(
            err("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n"),
            "the certificate that begins on line 1 has no -----END CERTIFICATE-----"
        );
        assert!(
            err("-----BEGIN CERTIFICATE-----\nMAMC\n-----BEGIN CERTIFICATE-----\n")
                .starts_with("line 3 is inside the certificate that begins on line 1")
        );
        // Well-formed base64, not a certificate.
        assert!(
            err("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n")
                .starts_with("certificate 1 (lines 1-3) is not X.509")
        );
        assert!(
            err("-----BEGIN CERTIFICATE-----\nMAM=CAQE\n-----END CERTIFICATE-----\n")
                .contains("is not valid base64")
        );
        for text in ["x", "", "-----BEGIN RSA PRIVATE KEY-----\n"] {
            assert_eq!(check(text).unwrap_err().1, KEEP_ONLY_CERTIFICATES);
        }
    }

    #[test]
    fn files_are_regular_and_small() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&dir.path().join("missing.pem"))
            .unwrap_err()
            .0
            .starts_with("cannot read it"));
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link.pem")).unwrap();
        assert!(read(&dir.path().join("link.pem"))
            .unwrap_err()
            .0
            .contains("symbolic link"));
        let big = dir.path().join("big.pem");
        std::fs::write(&big, "\n".repeat(300 * 1024)).unwrap();
        assert!(read(&big).unwrap_err().0.contains("at most 256 KiB"));
        let binary = dir.path().join("ca.der");
        std::fs::write(&binary, [0x30, 0x82, 0xff, 0xfe]).unwrap();
        assert_eq!(read(&binary).unwrap_err().0, "is not text");
    }
}
