//! The JSON (and text) bodies of the REST API, the health-check API,
//! Prometheus and Grafana, through what `health` concludes from them. The
//! first byte picks the probe and the HTTP status; the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use torrust_bake::health::replies::{
    api_health_reply, api_stats_reply, grafana_reply, health_check_reply, plain_reply,
};

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, body)) = data.split_first() else {
        return;
    };
    let status = [200, 401, 403, 500][usize::from(knobs >> 6)];
    let outcome = match knobs % 5 {
        0 => api_health_reply(status, body),
        1 => api_stats_reply(status, body, &["udp4_announces_handled"]),
        2 => health_check_reply(status, body),
        3 => grafana_reply(status, body),
        _ => plain_reply(status, body),
    };
    let _ = outcome.map_err(|e| e.to_string());
});
