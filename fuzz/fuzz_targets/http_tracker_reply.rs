//! The HTTP tracker's bencoded announce and scrape replies, through what
//! `health` concludes from them. The first byte picks the reply and the
//! probe's settings; the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use torrust_bake::health::replies::{announce_reply, scrape_reply};

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, body)) = data.split_first() else {
        return;
    };
    let refusal_ok = knobs & 0x02 != 0;
    let status = if knobs & 0x04 == 0 { 200 } else { 400 };
    if knobs & 0x01 == 0 {
        let _ = announce_reply(status, body, refusal_ok).map_err(|e| e.to_string());
    } else {
        let _ = scrape_reply(status, body, refusal_ok).map_err(|e| e.to_string());
    }
});
