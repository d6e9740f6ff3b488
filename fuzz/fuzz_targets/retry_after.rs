//! A registry's `Retry-After` header: delta-seconds or an HTTP date,
//! against a clock from the first 8 bytes.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use torrust_bake::images::registry::retry_after;

fuzz_target!(|data: &[u8]| {
    let Some((clock, header)) = data.split_first_chunk::<8>() else {
        return;
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    // Any time from 1970 to ~2106, as a machine's clock may say.
    let secs = u64::from_le_bytes(*clock) % (1 << 32);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    let _ = retry_after(header, now);
});
