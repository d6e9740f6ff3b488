//! SHA-256 as every artifact, checksum list and manifest writes it: lower
//! case hex, the format `sha256sum -c` reads. `Sha256` holds the 32 bytes,
//! so a value that is not a digest cannot be carried around as one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::of(bytes).to_string()
}

/// A SHA-256 digest (as coreos-installer's `Sha256Digest`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    pub fn of(bytes: &[u8]) -> Sha256 {
        Sha256(sha2::Sha256::digest(bytes).into())
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

impl FromStr for Sha256 {
    type Err = String;

    /// 64 lower-case hex digits, as `sha256sum` prints them.
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let mut out = [0u8; 32];
        match hex::decode_to_slice(s, &mut out) {
            Ok(()) if lower => Ok(Sha256(out)),
            _ => Err(format!(
                "'{s}' is not a SHA-256 digest (64 lower-case hex digits)"
            )),
        }
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_a_digest() {
        let d = Sha256::of(b"abc");
        assert_eq!(
            d.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.to_string().parse::<Sha256>().unwrap(), d);
        assert!(
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
                .parse::<Sha256>()
                .is_err()
        );
        assert!("abc".parse::<Sha256>().is_err());
        assert!(serde_json::from_str::<Sha256>("\"../etc\"").is_err());
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{d}\""));
    }
}

/// The environment's release key: every value derived from a secret is
/// computed under it (HMAC-SHA256, RFC 2104), so a published manifest or
/// version offers no offline check of a guessed password.
pub struct Key(Vec<u8>);

impl Key {
    pub fn new(secret: &str) -> Key {
        Key(secret.as_bytes().to_vec())
    }

    pub fn mac(&self, bytes: &[u8]) -> Sha256 {
        use hmac::Mac as _;
        // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(bytes);
        Sha256(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(redacted)")
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let key = Key::new("Jefe");
        assert_eq!(
            key.mac(b"what do ya want for nothing?").to_string(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(Key::new("other").mac(b"x"), key.mac(b"x"));
    }
}
