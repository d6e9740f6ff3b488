//! The one place HTTP clients are built: timeouts on every request, our user
//! agent, no redirects followed silently (a health check must see what the
//! tracker answers, not where it sends us).

use std::time::Duration;

pub const USER_AGENT: &str = concat!("torrust-bake/", env!("CARGO_PKG_VERSION"));

/// A client whose every request times out after `timeout`.
pub fn client(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(timeout)
        .redirects(0)
        .user_agent(USER_AGENT)
        .build()
}

/// A client for large downloads (a cloud image): no overall deadline, but
/// connecting and every read time out; redirects are followed (mirrors use
/// them) because what arrives is checked against a checksum anyway.
pub fn download_client(connect: Duration, read: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(connect)
        .timeout_read(read)
        .redirects(5)
        .user_agent(USER_AGENT)
        .build()
}

/// A client like [`client`] that reaches every host name at `to` (the
/// address of one VM or floating IP, whatever the name's DNS says) and,
/// with `roots`, trusts only those CAs (a private ACME CA) instead of the
/// public ones.
pub fn pinned_client(
    timeout: Duration,
    to: std::net::IpAddr,
    roots: Option<&[rustls_pki_types::CertificateDer<'static>]>,
) -> Result<ureq::Agent, String> {
    let mut b = ureq::AgentBuilder::new()
        .timeout(timeout)
        .redirects(0)
        .user_agent(USER_AGENT)
        .resolver(move |netloc: &str| {
            let port = netloc
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse().ok())
                .unwrap_or(443);
            Ok(vec![std::net::SocketAddr::new(to, port)])
        });
    if let Some(roots) = roots {
        let mut store = rustls::RootCertStore::empty();
        for cert in roots {
            store
                .add(cert.clone())
                .map_err(|e| format!("not a CA certificate TLS can use: {e}"))?;
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(store)
            .with_no_client_auth();
        b = b.tls_config(std::sync::Arc::new(tls));
    }
    Ok(b.build())
}
