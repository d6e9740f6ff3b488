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
