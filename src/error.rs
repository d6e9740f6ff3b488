//! The one error type: what went wrong and whose move it is, which decides
//! the exit code (docs/ARCHITECTURE.md, "Errors").
//!
//! Errors travel as `anyhow::Error` so that each layer can say what it was
//! doing ("writing releases/local/x/seed.iso: ..."); the exit code comes from
//! the first `Error` found in that chain: input the user fixes is 1,
//! everything else (an unreachable host, a disk error, a bug) is 2.
//! Nothing below the CLI knows about exit codes beyond this module.

use std::fmt;

use serde::Serialize;

pub type Result<T, E = anyhow::Error> = std::result::Result<T, E>;

/// What kind of failure, in the terms a user acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Bad input: a value, a name, a reference, a file the user wrote.
    Invalid,
    /// What was asked for does not exist (a release, a tag, a repository).
    NotFound,
    /// Credentials missing or refused.
    Denied,
    /// A host could not be reached, or failed after every retry.
    Unreachable,
    /// A peer answered something that is not its protocol.
    Protocol,
}

impl Kind {
    /// 1 when the user can fix it by changing what they asked for, else 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Invalid | Kind::NotFound | Kind::Denied => 1,
            Kind::Unreachable | Kind::Protocol => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: Kind,
    message: String,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(Kind::Invalid, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(Kind::NotFound, message)
    }

    /// What was asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == Kind::NotFound
    }

    /// The same error with what was being done in front ("announce: ...").
    pub fn during(self, what: &str) -> Self {
        Error::new(self.kind, format!("{what}: {}", self.message))
    }

    /// The user's to fix (exit code 1) rather than an outside failure.
    pub fn is_input(&self) -> bool {
        self.kind.exit_code() == 1
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The exit code for an error chain: the first `Error`'s, else 2.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Error>())
        .map_or(2, |e| e.kind.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn exit_code_comes_from_the_chain() {
        let e: anyhow::Error = Error::invalid("bad").into();
        assert_eq!(exit_code(&e), 1);
        let wrapped = Err::<(), _>(Error::new(Kind::Unreachable, "down"))
            .context("resolving tracker")
            .unwrap_err();
        assert_eq!(exit_code(&wrapped), 2);
        let wrapped = Err::<(), _>(Error::new(Kind::NotFound, "no tag"))
            .context("pinning")
            .unwrap_err();
        assert_eq!(exit_code(&wrapped), 1);
        assert_eq!(exit_code(&anyhow::anyhow!("disk full")), 2);
    }
}
