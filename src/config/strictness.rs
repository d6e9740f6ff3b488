//! How strict validation is on an environment: a leaf the variable table
//! (the words `TORRUST_BAKE_STRICTNESS` takes) and the environments share.

use std::fmt;

use serde::Serialize;

/// How hard validation is on an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strictness {
    /// Real secrets only, images by digest only, example values and unknown
    /// variables refused (staging, production).
    Strict,
    /// Built-in local defaults allowed, tags allowed with a warning (local).
    Lenient,
}

impl Strictness {
    /// The words `TORRUST_BAKE_STRICTNESS` takes.
    pub const NAMES: &'static [&'static str] = &["strict", "lenient"];

    pub fn parse(word: &str) -> Option<Strictness> {
        match word {
            "strict" => Some(Strictness::Strict),
            "lenient" => Some(Strictness::Lenient),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strictness::Strict => "strict",
            Strictness::Lenient => "lenient",
        }
    }
}

impl fmt::Display for Strictness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
