//! Release versions: the first 12 hex digits of a SHA-256 over a release's
//! content (release/manifest.rs computes it), and the stand-in that the
//! cloud-init files carry until the version is known.

/// What the cloud-init files are first generated with: the version is a
/// digest over them, so they cannot hold it yet. Input that reaches those
/// files verbatim (the SSH key, the install template) must not contain it.
pub const STAND_IN: &str = "(version)";

/// Length of a version in hex digits.
pub const LEN: usize = 12;

/// A release version. Made only by `release::manifest` (from content) or
/// parsed from text that `is_version`, so it is always safe in a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(String);

impl Version {
    /// Before the version is known: what the manifest hashes in its place.
    pub(crate) fn pending() -> Version {
        Version(String::new())
    }

    /// The version of `digest_hex` (a SHA-256 in hex): its first 12 digits.
    pub(crate) fn from_digest(digest_hex: &str) -> Version {
        Version(digest_hex[..LEN].to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Version {
    type Err = crate::error::Error;

    fn from_str(s: &str) -> Result<Version, Self::Err> {
        if is_version(s) {
            Ok(Version(s.to_string()))
        } else {
            Err(crate::error::Error::invalid(format!(
                "'{s}' is not a release version (12 hex digits, as `build` prints)"
            )))
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<std::path::Path> for Version {
    fn as_ref(&self) -> &std::path::Path {
        self.0.as_ref()
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A version as `build` writes it: 12 lower-case hex digits. Anything else
/// given where a version is expected (e.g. `../x`) is refused.
pub fn is_version(s: &str) -> bool {
    s.len() == LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parsed_versions_are_safe_in_paths() {
        assert!("../../etc/xx".parse::<super::Version>().is_err());
        assert!(serde_json::from_str::<super::Version>("\"/etc/passwd\"").is_err());
        let v: super::Version = "0123456789ab".parse().unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"0123456789ab\"");
    }

    #[test]
    fn versions() {
        assert!(super::is_version("0123456789ab"));
        assert!(!super::is_version("0123456789AB"));
        assert!(!super::is_version("../../../etc"));
        assert!(!super::is_version("0123456789a"));
    }
}
