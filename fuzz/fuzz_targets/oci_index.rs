//! A registry's manifest body: the `mediaType` read when the reply has no
//! `Content-Type`, and the platform digests of an OCI index / Docker list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use torrust_bake::images::registry::{body_media_type, index_platforms, PLATFORMS};
use torrust_bake::images::Digest;

fuzz_target!(|data: &[u8]| {
    let _ = body_media_type(data);
    if let Ok(platforms) = index_platforms(data) {
        for (name, digest) in platforms {
            assert!(PLATFORMS.contains(&name.as_str()), "{name}");
            assert_eq!(digest.to_string().parse::<Digest>(), Ok(digest));
        }
    }
});
