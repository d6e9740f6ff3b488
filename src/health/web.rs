//! HTTP probes: the HTTP tracker (BEP 3 announce, BEP 23 compact peers,
//! BEP 48 scrape; bencoded replies parsed, `interval`, `peers` and `failure
//! reason` checked), the REST API, the health-check API, Prometheus and
//! Grafana. No error carries a URL: the API's carries the token.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::peers::{self, Listed};
use super::{protocol, quoted, unreachable, Peer, Probe, FIRST_PEER, INFO_HASH, SECOND_PEER};
use crate::error::{Error, Kind};
use crate::render::url_encode;

/// A transport failure in words, without the URL: a URL may carry the API
/// token (tracker 3.0 takes it only as a query parameter), and the check's
/// target already says where the request went.
fn transport_error(t: &ureq::Transport) -> Error {
    if t.kind() == ureq::ErrorKind::ConnectionFailed && t.to_string().contains("Connection refused")
    {
        return unreachable("port closed: connection refused");
    }
    let mut text = format!("request failed: {}", t.kind());
    if let Some(m) = t.message() {
        text.push_str(": ");
        text.push_str(m);
    }
    if let Some(source) = std::error::Error::source(t) {
        text.push_str(": ");
        text.push_str(&source.to_string());
    }
    unreachable(text)
}

#[derive(serde::Deserialize)]
struct AnnounceReply {
    interval: Option<i64>,
    #[serde(rename = "failure reason")]
    failure: Option<String>,
    peers: Option<serde_bencode::value::Value>,
}

#[derive(serde::Deserialize)]
struct ScrapeReply {
    files: Option<BTreeMap<serde_bytes::ByteBuf, serde_bencode::value::Value>>,
    #[serde(rename = "failure reason")]
    failure: Option<String>,
}

/// GETs `url`. (Behind Caddy, which sets `X-Forwarded-For` itself, the
/// tracker's `on_reverse_proxy` takes the peer's address from there.)
fn get(http: &Http, url: &str) -> Result<(u16, Vec<u8>), Error> {
    let mut req = http.agent.get(url);
    if let Some(deadline) = http.deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(unreachable("not sent: the --wait deadline had passed"));
        }
        // The whole request, not each read: a server that trickles bytes
        // must not hold `--wait` open either.
        req = req.timeout(left.min(http.timeout));
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => return Err(transport_error(&t)),
    };
    let status = resp.status();
    let mut body = Vec::new();
    use std::io::Read;
    resp.into_reader()
        .take(1 << 20)
        .read_to_end(&mut body)
        .map_err(|e| unreachable(format!("reading the reply: {e}")))?;
    Ok((status, body))
}

/// The HTTP client of one round of checks: every request times out after
/// `timeout`, and none outlasts `deadline` (`--wait`'s end).
pub(super) struct Http {
    pub agent: ureq::Agent,
    pub timeout: Duration,
    pub deadline: Option<Instant>,
}

/// Where the HTTP probe stands: the client address the tracker should see
/// (`sent_from`, as routing picks it; behind Caddy, the address Caddy
/// passes on), and whether a proxy or NAT may stand between (a loopback
/// target: see `peers::verdict`).
pub(super) struct HttpClient {
    pub sent_from: IpAddr,
    pub exact: bool,
    pub external_ip: Option<IpAddr>,
}

fn announce_url(base: &str, peer: &Peer) -> String {
    let hash = percent_encoding::percent_encode(INFO_HASH, percent_encoding::NON_ALPHANUMERIC);
    use aquatic_udp_protocol::AnnounceEvent;
    let event = match peer.event {
        AnnounceEvent::None => "",
        AnnounceEvent::Started => "&event=started",
        AnnounceEvent::Stopped => "&event=stopped",
        AnnounceEvent::Completed => "&event=completed",
    };
    format!(
        "{base}/announce?info_hash={hash}&peer_id={}&port={}&uploaded=0&downloaded=0&left={}&compact=1{event}",
        url_encode(std::str::from_utf8(peer.id).unwrap_or_default()),
        peer.port,
        peer.left,
    )
}

/// Announce (a refusal passes when the mode refuses strangers), a second
/// peer's announce whose reply must list the first (`peers.rs`), the
/// second peer leaving, scrape.
pub(super) fn http_tracker(
    http: &Http,
    base: &str,
    client: &HttpClient,
    refusal_ok: bool,
) -> Probe {
    let (status, body) =
        get(http, &announce_url(base, &FIRST_PEER)).map_err(|e| e.during("announce"))?;
    let announce = announce_reply(status, &body, refusal_ok)?;
    let peer_list = if announce.starts_with(REFUSED) {
        "no peer list: the mode refuses unknown torrents".to_string()
    } else {
        let (status, body) = get(http, &announce_url(base, &SECOND_PEER))
            .map_err(|e| e.during("second peer's announce"))?;
        let ip = peers::expected_ip(client.sent_from, client.external_ip);
        let verdict = http_listed(status, &body)
            .and_then(|l| peers::verdict(&l, SocketAddr::new(ip, FIRST_PEER.port), client.exact));
        // Whatever the verdict, the second peer leaves the swarm.
        let _ = get(http, &announce_url(base, &SECOND_PEER.leaving()));
        verdict?
    };
    let hash = percent_encoding::percent_encode(INFO_HASH, percent_encoding::NON_ALPHANUMERIC);
    let url = format!("{base}/scrape?info_hash={hash}");
    let (status, body) = get(http, &url).map_err(|e| e.during("scrape"))?;
    scrape_reply(status, &body, refusal_ok)?;
    Ok(format!("announce ({announce}), {peer_list}, scrape"))
}

#[derive(serde::Deserialize)]
struct PeersReply {
    #[serde(rename = "failure reason")]
    failure: Option<String>,
    peers: Option<serde_bencode::value::Value>,
    peers6: Option<serde_bytes::ByteBuf>,
}

/// The peers an HTTP announce reply lists: compact `peers` (BEP 23) and
/// `peers6` (BEP 7), or a list of dictionaries (`ip`, `port`; BEP 3).
pub fn http_listed(status: u16, body: &[u8]) -> Result<Listed, Error> {
    use serde_bencode::value::Value;
    let context = |e: String| protocol(format!("second peer's announce: HTTP {status}, {e}"));
    let reply: PeersReply =
        from_bencode(body).map_err(|e| context(format!("reply is not bencoded ({e})")))?;
    if let Some(f) = reply.failure {
        return Err(context(format!("failure reason: {}", quoted(f.as_bytes()))));
    }
    let mut listed = Listed {
        v6: match &reply.peers6 {
            Some(b) => peers::compact(b, false).map_err(|e| context(format!("peers6: {e}")))?,
            None => Vec::new(),
        },
        ..Listed::default()
    };
    match reply.peers {
        Some(Value::Bytes(b)) => {
            listed.v4 = peers::compact(&b, true).map_err(|e| context(format!("peers: {e}")))?
        }
        Some(Value::List(entries)) => {
            for entry in entries {
                let addr = dictionary_peer(&entry)
                    .ok_or_else(|| context("a peer in `peers` lacks a valid ip or port".into()))?;
                match addr {
                    SocketAddr::V4(_) => listed.v4.push(addr),
                    SocketAddr::V6(_) => listed.v6.push(addr),
                }
            }
        }
        Some(_) => return Err(context("`peers` is neither bytes nor a list".into())),
        None => return Err(context("reply has no `peers`".into())),
    }
    Ok(listed)
}

/// One BEP 3 peer dictionary: `ip` (text) and `port`.
fn dictionary_peer(entry: &serde_bencode::value::Value) -> Option<SocketAddr> {
    use serde_bencode::value::Value;
    let Value::Dict(d) = entry else { return None };
    let ip = match d.get(&b"ip"[..])? {
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse::<IpAddr>().ok()?,
        _ => return None,
    };
    let port = match d.get(&b"port"[..])? {
        Value::Int(p) => u16::try_from(*p).ok()?,
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Tracker replies nest three levels (dictionary, `files`, one torrent's
/// dictionary; a non-compact peer list of dictionaries); more is not a reply.
const MAX_BENCODE_DEPTH: usize = 32;

/// `serde_bencode::from_bytes`, refusing input nested deeper than
/// `MAX_BENCODE_DEPTH` first: its deserializer recurses once per list or
/// dictionary with no limit, so a reply of 100 000 `l`s (well under the
/// 1 MiB `get` reads) overflowed the stack and aborted `health`.
fn from_bencode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    // Walks the tokens as serde_bencode reads them (`i..e`, `<len>:<bytes>`,
    // `l`, `d`, `e`), counting every open list or dictionary, keys included;
    // it stops at the first token serde_bencode would refuse, where the
    // parse below fails anyway.
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'l' | b'd' => {
                depth += 1;
                if depth > MAX_BENCODE_DEPTH {
                    return Err(format!("nested deeper than {MAX_BENCODE_DEPTH} levels"));
                }
                i += 1;
            }
            b'e' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'i' => match body[i..].iter().position(|&c| c == b'e') {
                Some(end) => i += end + 1,
                None => break,
            },
            b'0'..=b'9' => {
                let Some(colon) = body[i..].iter().position(|&c| c == b':') else {
                    break;
                };
                let len = std::str::from_utf8(&body[i..i + colon])
                    .ok()
                    .and_then(|l| l.parse::<usize>().ok());
                match len.and_then(|l| (i + colon + 1).checked_add(l)) {
                    Some(next) => i = next,
                    None => break,
                }
            }
            _ => break,
        }
    }
    serde_bencode::from_bytes(body).map_err(|e| e.to_string())
}

/// How `announce_reply` says the tracker refused as the mode does (the
/// probe then skips the peer list).
const REFUSED: &str = "announce refused as configured";

/// What the HTTP tracker probe concludes from an announce reply (HTTP
/// `status`, bencoded `body`).
pub fn announce_reply(status: u16, body: &[u8], refusal_ok: bool) -> Probe {
    let reply: AnnounceReply = from_bencode(body).map_err(|e| {
        protocol(format!(
            "announce: HTTP {status}, reply is not a bencoded dictionary ({e})"
        ))
    })?;
    match (reply.failure, reply.interval, reply.peers) {
        (Some(f), _, _) if refusal_ok => Ok(format!("{REFUSED} ({})", quoted(f.as_bytes()))),
        (Some(f), _, _) => Err(Error::new(
            Kind::Denied,
            format!("announce: failure reason: {}", quoted(f.as_bytes())),
        )),
        (None, Some(i), Some(_)) if i > 0 => Ok(format!("interval {i} s")),
        (None, i, p) => Err(protocol(format!(
            "announce: HTTP {status}, reply lacks a positive interval ({}) or peers ({})",
            match i {
                Some(i) => format!("interval {i}"),
                None => "no interval".to_string(),
            },
            if p.is_some() { "present" } else { "missing" }
        ))),
    }
}

/// What the HTTP tracker probe concludes from a scrape reply.
pub fn scrape_reply(status: u16, body: &[u8], refusal_ok: bool) -> Result<(), Error> {
    let reply: ScrapeReply = from_bencode(body).map_err(|e| {
        protocol(format!(
            "scrape: HTTP {status}, reply is not bencoded ({e})"
        ))
    })?;
    match (reply.failure, reply.files) {
        (Some(f), _) if !refusal_ok => Err(Error::new(
            Kind::Denied,
            format!("scrape: failure reason: {}", quoted(f.as_bytes())),
        )),
        (None, None) => Err(protocol(format!(
            "scrape: HTTP {status}, reply has no files dictionary"
        ))),
        _ => Ok(()),
    }
}

fn json_status(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("status")?
        .as_str()
        .map(str::to_string)
}

pub(super) fn api_health(http: &Http, api: &str) -> Probe {
    let (status, body) = get(http, &format!("{api}/api/health_check"))?;
    api_health_reply(status, &body)
}

/// What the API health probe concludes from its reply.
pub fn api_health_reply(status: u16, body: &[u8]) -> Probe {
    match (status, json_status(body)) {
        (200, Some(s)) if s == "Ok" => Ok("status Ok".into()),
        (code, s) => Err(protocol(format!(
            "HTTP {code}, {}",
            status_words(s.as_deref())
        ))),
    }
}

/// A reply's `status` in words (it used to show as Rust's `None` or
/// `Some("Error")`).
fn status_words(status: Option<&str>) -> String {
    match status {
        Some(s) => format!("status \"{}\" (expected \"Ok\")", quoted(s.as_bytes())),
        None => "the reply has no status (expected \"status\": \"Ok\")".to_string(),
    }
}

pub(super) fn api_stats(http: &Http, api: &str, token: &str, counted: &[&str]) -> Probe {
    let url = format!("{api}/api/v1/stats?token={}", url_encode(token));
    let (status, body) = get(http, &url)?;
    api_stats_reply(status, &body, counted)
}

/// What the API stats probe concludes from its reply. `counted` names the
/// counters this run's announces must have raised (`udp4_announces_handled`
/// after IPv4 UDP announces): a tracker that takes IPv4 clients for IPv6
/// ones counts them under the other family, and every dashboard split by
/// family is wrong.
pub fn api_stats_reply(status: u16, body: &[u8], counted: &[&str]) -> Probe {
    // Nothing of this reply is quoted: the request carries the token in
    // its URL, and a server that echoes the request (an error page, a
    // proxy's 502, a field of the JSON) would print it. Only numbers and
    // our own words leave this function.
    let stats: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let count = |name: &str| stats.as_ref().and_then(|s| s.get(name));
    match (status, count("torrents")) {
        (200, Some(t)) => {
            let Some(torrents) = t.as_u64() else {
                return Err(protocol(
                    "HTTP 200, but `torrents` in the stats is not a number (the reply is not shown: it may echo the request, which carries the API token)",
                ));
            };
            for name in counted {
                if count(name).and_then(serde_json::Value::as_u64) == Some(0) {
                    let other = other_family(name);
                    let theirs = match count(&other).and_then(serde_json::Value::as_u64) {
                        Some(n) => n.to_string(),
                        None => "not a number".to_string(),
                    };
                    return Err(protocol(format!(
                        "{name} is 0 after this check's announces ({other} {theirs}): the tracker counts this address family's clients under the other (a dual-stack [::] socket; bind each family on its own socket)"
                    )));
                }
            }
            Ok(format!("authenticated, {torrents} torrents"))
        }
        // Tracker 3.0 answers a token it does not know with HTTP 500,
        // `Unhandled rejection: Err { reason: "token not valid" }`.
        (401 | 403 | 500, _) if is_token_rejection(body) => Err(Error::new(
            Kind::Denied,
            "token rejected: TORRUST_TRACKER_API_TOKEN differs from the deployed one",
        )),
        (code, _) => Err(protocol(format!(
            "HTTP {code}{}, {} bytes not shown (a reply to this request may echo it, and it carries the API token): check the API's log on the VM",
            if code == 200 { " without `torrents`" } else { "" },
            body.len()
        ))),
    }
}

/// `udp4_...` for `udp6_...` and back (`tcp` likewise).
fn other_family(name: &str) -> String {
    if name.contains('4') {
        name.replacen('4', "6", 1)
    } else {
        name.replacen('6', "4", 1)
    }
}

/// Prometheus `/-/healthy`: HTTP 200 with a short text.
pub(super) fn plain_ok(http: &Http, url: &str) -> Probe {
    let (status, body) = get(http, url)?;
    plain_reply(status, &body)
}

/// What the Prometheus probe concludes from its reply.
pub fn plain_reply(status: u16, body: &[u8]) -> Probe {
    // Shown on success too: a page of 1 MiB, or one with escape sequences,
    // is cut and made printable.
    let text = quoted(body);
    match status {
        200 => Ok(text),
        code => Err(protocol(format!("HTTP {code}: {text}"))),
    }
}

/// Grafana `/api/health`: HTTP 200 and `"database": "ok"`.
pub(super) fn grafana_health(http: &Http, url: &str) -> Probe {
    let (status, body) = get(http, url)?;
    grafana_reply(status, &body)
}

/// What the Grafana probe concludes from its reply.
pub fn grafana_reply(status: u16, body: &[u8]) -> Probe {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    match (status, v.as_ref().and_then(|v| v["database"].as_str())) {
        (200, Some("ok")) => Ok("database ok".into()),
        (code, Some(db)) => Err(protocol(format!(
            "HTTP {code}, database \"{}\" (expected \"ok\")",
            quoted(db.as_bytes())
        ))),
        (code, None) => Err(protocol(format!(
            "HTTP {code}, the reply has no database state (expected \"database\": \"ok\")"
        ))),
    }
}

fn is_token_rejection(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body).to_lowercase();
    text.contains("token not valid")
        || text.contains("unauthorized")
        || text.contains("missing token")
}

pub(super) fn health_check_api(http: &Http, base: &str) -> Probe {
    let (status, body) = get(http, &format!("{base}/health_check"))?;
    health_check_reply(status, &body)
}

/// What the health-check API probe concludes from its reply.
pub fn health_check_reply(status: u16, body: &[u8]) -> Probe {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| protocol(format!("HTTP {status}, not JSON: {e}")))?;
    // Every name quoted below comes from the server: at most this many.
    let failing_max = 8;
    let failing: Vec<String> = v["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter(|x| x["result"].get("Ok").is_none())
                .map(|x| quoted(x["binding"].as_str().unwrap_or("?").as_bytes()))
                .take(failing_max)
                .collect()
        })
        .unwrap_or_default();
    match (status, v["status"].as_str()) {
        (200, Some("Ok")) => Ok(format!(
            "{} services Ok",
            v["details"].as_array().map(Vec::len).unwrap_or(0)
        )),
        (code, s) => Err(protocol(format!(
            "HTTP {code}, {}, failing: {}",
            status_words(s),
            if failing.is_empty() {
                "none named".to_string()
            } else {
                failing.join(", ")
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply nested 100 000 deep overflowed the stack (an abort, not an
    /// error); fuzz/http_tracker_reply crashed on it.
    #[test]
    fn deeply_nested_replies_are_refused() {
        let mut deep = b"d8:intervali1e5:peers".to_vec();
        deep.extend("l".repeat(100_000).bytes());
        deep.extend("e".repeat(100_001).bytes());
        let e = announce_reply(200, &deep, false).unwrap_err();
        assert_eq!(e.kind, Kind::Protocol);
        assert!(
            e.to_string().contains("nested deeper than 32 levels"),
            "{e}"
        );
        let mut deep = b"d5:filesd20:torrust-bake-health!".to_vec();
        deep.extend("d".repeat(100_000).bytes());
        let e = scrape_reply(200, &deep, false).unwrap_err();
        assert!(
            e.to_string().contains("nested deeper than 32 levels"),
            "{e}"
        );
        // Brackets inside byte strings and integers are not nesting.
        let mut flat = b"d8:intervali120e5:peers".to_vec();
        flat.extend(format!("{}:", 40_000).bytes());
        flat.extend("l".repeat(40_000).bytes());
        flat.push(b'e');
        assert_eq!(announce_reply(200, &flat, false).unwrap(), "interval 120 s");
        let mut ok = b"d8:intervali120e5:peers".to_vec();
        ok.extend("l".repeat(31).bytes());
        ok.extend("e".repeat(32).bytes());
        assert_eq!(announce_reply(200, &ok, false).unwrap(), "interval 120 s");
    }

    #[test]
    fn tracker_replies() {
        let peers = b"d8:intervali120e5:peers6:\x7f\0\0\x01\x1a\xe1e";
        assert_eq!(announce_reply(200, peers, false).unwrap(), "interval 120 s");
        let refused = b"d14:failure reason6:refusee";
        assert_eq!(
            announce_reply(200, refused, false).unwrap_err().kind,
            Kind::Denied
        );
        assert_eq!(
            announce_reply(200, refused, true).unwrap(),
            "announce refused as configured (refuse)"
        );
        assert!(scrape_reply(200, b"d5:filesdee", false).is_ok());
        assert_eq!(
            scrape_reply(200, b"de", false).unwrap_err().to_string(),
            "scrape: HTTP 200, reply has no files dictionary"
        );
    }
}
