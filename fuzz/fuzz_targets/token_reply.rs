//! The JSON reply of a registry's token service.
#![no_main]

use libfuzzer_sys::fuzz_target;
use torrust_bake::images::registry::token_of;

fuzz_target!(|data: &[u8]| {
    let _ = token_of(data);
});
