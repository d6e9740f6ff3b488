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
