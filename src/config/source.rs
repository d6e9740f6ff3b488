//! Where a value came from: a leaf that loading, the report and the
//! environments share, so none of them imports another for it.

use std::fmt;
use std::path::PathBuf;

/// Where a value came from, highest precedence first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Process,
    /// The per-environment secrets file (config/secrets_file.rs).
    SecretsFile {
        path: PathBuf,
        line: usize,
    },
    File {
        path: PathBuf,
        line: usize,
    },
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Process => write!(f, "process environment"),
            Source::SecretsFile { path, line: 0 } => write!(f, "{}", path.display()),
            Source::SecretsFile { path, line } => write!(f, "{}:{}", path.display(), line),
            Source::File { path, line: 0 } => write!(f, "{}", path.display()),
            Source::File { path, line } => write!(f, "{}:{}", path.display(), line),
            Source::Default => write!(f, "default"),
        }
    }
}

/// One `NAME=value` assignment read from an env file.
#[derive(Debug, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub value: String,
    pub line: usize,
}
