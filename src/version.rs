//! Release versions: the first 12 hex digits of a SHA-256 over a release's
//! content (release/manifest.rs computes it), and the stand-in that the
//! cloud-init files carry until the version is known.

/// What the cloud-init files are first generated with: the version is a
/// digest over them, so they cannot hold it yet. Input that reaches those
/// files verbatim (the SSH key, the install template) must not contain it.
pub const STAND_IN: &str = "(version)";

/// Length of a version in hex digits.
pub const LEN: usize = 12;

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
    fn versions() {
        assert!(super::is_version("0123456789ab"));
        assert!(!super::is_version("0123456789AB"));
        assert!(!super::is_version("../../../etc"));
        assert!(!super::is_version("0123456789a"));
    }
}
