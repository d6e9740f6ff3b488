//! An image reference (a lock's `reference`, user input): the hand-written
//! parser `check` and `build` use (`images::reference`) must agree with
//! oci-spec's regex on every string: the same verdict, parts and error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use torrust_bake::images::reference::agrees_with_oci_spec;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Err(e) = agrees_with_oci_spec(s) {
            panic!("{e}");
        }
    }
});
