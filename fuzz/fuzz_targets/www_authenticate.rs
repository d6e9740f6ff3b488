//! A registry's `WWW-Authenticate` header (a header value: bytes the HTTP
//! client hands over as text).
#![no_main]

use libfuzzer_sys::fuzz_target;
use torrust_bake::images::registry::parse_challenge;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(c) = parse_challenge(header) {
        assert_eq!(c.scheme, c.scheme.to_ascii_lowercase());
        for k in c.params.keys() {
            assert_eq!(*k, k.to_ascii_lowercase());
        }
    }
});
