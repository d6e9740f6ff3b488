//! A UDP tracker's reply to connect, announce or scrape (BEP 15), through
//! what `health` concludes from it. The first byte picks the request and
//! the probe's settings; the rest is the reply.
#![no_main]

use aquatic_udp_protocol::TransactionId;
use libfuzzer_sys::fuzz_target;
use torrust_bake::health::replies::{announced, connected, parse_reply, scraped};

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, reply)) = data.split_first() else {
        return;
    };
    let action = i32::from(knobs % 3);
    let ipv4 = knobs & 0x04 == 0;
    let refusal_ok = knobs & 0x08 != 0;
    // Mostly the reply's own transaction id, so decoding is reached.
    let tid = match reply.get(4..8) {
        Some(b) if knobs & 0x10 == 0 => i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        _ => 0x0102_0304,
    };
    let parsed = parse_reply(reply, TransactionId::new(tid), action, ipv4);
    let outcome = match action {
        0 => connected(parsed).map(|c| format!("{c:?}")),
        1 => announced(parsed, refusal_ok),
        _ => scraped(parsed).map(|s| s.to_string()),
    };
    match outcome {
        Ok(s) => assert!(!s.is_empty()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
