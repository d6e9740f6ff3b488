//! SHA-256 as every artifact, checksum list and image pin writes it: lower
//! case hex, the format `sha256sum -c` reads.

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
