//! The UDP tracker probe, BEP 15 (https://www.bittorrent.org/beps/bep_0015.html):
//! connect, announce, scrape; a reply with another transaction id is
//! discarded (BEP 15: a client ignores it and keeps waiting); error replies
//! (action 3) and short packets reported. BEP 15 retries after 15 * 2^n s; a
//! health check cannot wait minutes, so the same doubling starts at
//! `--timeout` (default 1 s) with 3 attempts.
//!
//! Packets are encoded and decoded by `aquatic_udp_protocol`, the codec the
//! tracker itself uses. The socket, the retries, and the checks that make a
//! failure say what went wrong (length, action, transaction id) stay here:
//! the codec only says "invalid data".

use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use aquatic_udp_protocol::{
    AnnounceRequest, ConnectRequest, ConnectionId, InfoHash, Ipv4AddrBytes, NumberOfBytes,
    NumberOfPeers, PeerId, PeerKey, Port, Request, Response, ScrapeRequest, TransactionId,
};

use super::peers::{self, Listed};
use super::{ms, protocol, quoted, unreachable, Peer, Probe, FIRST_PEER, INFO_HASH, SECOND_PEER};
use crate::error::{Error, Kind};

const ATTEMPTS: u32 = 3;

/// A transaction id that differs per request (not reproducible on purpose:
/// a stale reply must not match a new request).
fn transaction_id() -> TransactionId {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed = nanos
        ^ COUNTER
            .fetch_add(0x9E37_79B9, Ordering::Relaxed)
            .rotate_left(7);
    TransactionId::new(mixed as i32)
}

/// What kind of reply `r` is, for a message (its Debug form would print
/// every peer it lists).
fn kind(r: &Response) -> &'static str {
    match r {
        Response::Connect(_) => "a connect reply",
        Response::AnnounceIpv4(_) | Response::AnnounceIpv6(_) => "an announce reply",
        Response::Scrape(_) => "a scrape reply",
        Response::Error(_) => "an error reply",
    }
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Checks the fixed part of a reply before the codec reads it: long enough
/// for its action, the action we asked for (or an error), our transaction id.
pub fn check_reply(reply: &[u8], tid: TransactionId, action: i32) -> Result<(), Error> {
    if reply.len() < 8 {
        let n = reply.len();
        return Err(protocol(format!(
            "truncated reply: {n} bytes, a reply has at least 8"
        )));
    }
    let got = be_i32(&reply[4..8]);
    let sent = tid.0.get();
    if got != sent {
        return Err(protocol(format!(
            "reply carries transaction id {got:#010x}, the request sent {sent:#010x}"
        )));
    }
    let min_len = match be_i32(&reply[0..4]) {
        3 => {
            let text = &reply[8..];
            let end = text.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            let message = format!("tracker error: {}", quoted(&text[..end]));
            return Err(Error::new(Kind::Denied, message));
        }
        got if got != action => {
            return Err(protocol(format!("reply action {got}, expected {action}")))
        }
        0 => 16,
        1 => 20,
        _ => 8,
    };
    if reply.len() < min_len {
        return Err(protocol(format!(
            "truncated reply of {} bytes, expected at least {min_len}",
            reply.len()
        )));
    }
    Ok(())
}

/// Decodes a reply to a request of `action` with `tid`: `check_reply`,
/// then the codec (IPv6 peers in an announce reply when `!ipv4`).
pub fn parse_reply(
    reply: &[u8],
    tid: TransactionId,
    action: i32,
    ipv4: bool,
) -> Result<Response, Error> {
    check_reply(reply, tid, action)?;
    Response::parse_bytes(reply, ipv4).map_err(|e| protocol(format!("malformed reply ({e})")))
}

/// What `check` concludes from the connect exchange: the connection id.
pub fn connected(exchanged: Result<Response, Error>) -> Result<ConnectionId, Error> {
    match exchanged {
        Ok(Response::Connect(r)) => Ok(r.connection_id),
        Ok(other) => Err(protocol(format!(
            "connect: unexpected reply ({})",
            kind(&other)
        ))),
        Err(e) => Err(e.during("connect")),
    }
}

/// What `check` concludes from the announce exchange (a refusal passes
/// when the mode refuses strangers).
pub fn announced(exchanged: Result<Response, Error>, refusal_ok: bool) -> Result<String, Error> {
    let interval = match exchanged {
        Ok(Response::AnnounceIpv4(r)) => r.fixed.announce_interval.0.get(),
        Ok(Response::AnnounceIpv6(r)) => r.fixed.announce_interval.0.get(),
        Ok(other) => {
            return Err(protocol(format!(
                "announce: unexpected reply ({})",
                kind(&other)
            )))
        }
        Err(e) if refusal_ok && e.kind == Kind::Denied => return Ok("refused as configured".into()),
        Err(e) => return Err(e.during("announce")),
    };
    if interval <= 0 {
        return Err(protocol(format!(
            "announce: interval {interval} is not positive"
        )));
    }
    Ok(format!("interval {interval} s"))
}

/// What `check` concludes from the scrape exchange: the seeders of the
/// first torrent (0 when the reply lists none).
pub fn scraped(exchanged: Result<Response, Error>) -> Result<i32, Error> {
    match exchanged {
        Ok(Response::Scrape(r)) => Ok(r.torrent_stats.first().map_or(0, |s| s.seeders.0.get())),
        Ok(other) => Err(protocol(format!(
            "scrape: unexpected reply ({})",
            kind(&other)
        ))),
        Err(e) => Err(e.during("scrape")),
    }
}

/// The peers a second peer's announce reply lists, by its format's family.
pub fn listed(exchanged: Result<Response, Error>) -> Result<Listed, Error> {
    match exchanged {
        Ok(Response::AnnounceIpv4(r)) => Ok(Listed {
            v4: r
                .peers
                .iter()
                .map(|p| SocketAddr::new(IpAddr::from(p.ip_address.0), p.port.0.get()))
                .collect(),
            v6: Vec::new(),
        }),
        Ok(Response::AnnounceIpv6(r)) => Ok(Listed {
            v4: Vec::new(),
            v6: r
                .peers
                .iter()
                .map(|p| SocketAddr::new(IpAddr::from(p.ip_address.0), p.port.0.get()))
                .collect(),
        }),
        Ok(other) => Err(protocol(format!(
            "second peer's announce: unexpected reply ({})",
            kind(&other)
        ))),
        Err(e) => Err(e.during("second peer's announce")),
    }
}

/// Sends `request` and waits for a reply with its transaction id,
/// doubling the timeout between attempts as BEP 15 does. A reply with
/// another transaction id (a late answer to an earlier request, or
/// someone else's) is discarded and the wait goes on, as BEP 15 has a
/// client do. Nothing waits past `deadline` (`--wait`'s end).
fn exchange(
    sock: &UdpSocket,
    request: Request,
    tid: TransactionId,
    action: i32,
    first: Duration,
    deadline: Option<Instant>,
) -> Result<Response, Error> {
    exchange_tries(sock, request, tid, action, first, deadline, ATTEMPTS)
}

/// `exchange` with `tries` attempts instead of the health check's three.
fn exchange_tries(
    sock: &UdpSocket,
    request: Request,
    tid: TransactionId,
    action: i32,
    first: Duration,
    deadline: Option<Instant>,
    tries: u32,
) -> Result<Response, Error> {
    let mut packet = Vec::with_capacity(98);
    request
        .write_bytes(&mut packet)
        .map_err(|e| protocol(format!("encoding the request: {e}")))?;
    let started = Instant::now();
    let mut timeout = first;
    let mut buf = [0u8; 2048];
    let mut discarded = 0u32;
    let mut attempts = 0;
    // Whether the deadline, not the attempts, ended the wait.
    let mut cut = false;
    while attempts < tries {
        let mut attempt_end = Instant::now() + timeout;
        if let Some(d) = deadline {
            cut = d <= attempt_end;
            attempt_end = attempt_end.min(d);
        }
        if attempt_end <= Instant::now() {
            break;
        }
        attempts += 1;
        sock.send(&packet)
            .map_err(|e| unreachable(format!("send failed: {e}")))?;
        loop {
            let left = attempt_end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            sock.set_read_timeout(Some(left))
                .map_err(|e| unreachable(e.to_string()))?;
            match sock.recv(&mut buf) {
                Ok(n) if n >= 8 && be_i32(&buf[4..8]) != tid.0.get() => discarded += 1,
                Ok(n) => {
                    let ipv4 = sock.peer_addr().map_or(true, |a| a.is_ipv4());
                    return parse_reply(&buf[..n], tid, action, ipv4);
                }
                Err(e) if is_timeout(&e) => break,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err(unreachable(
                        "port closed (ICMP port unreachable): nothing listens there",
                    ))
                }
                Err(e) => return Err(unreachable(format!("receive failed: {e}"))),
            }
        }
        timeout *= 2;
    }
    let discarded = match discarded {
        0 => String::new(),
        1 => "; 1 reply with another transaction id was discarded".to_string(),
        n => format!("; {n} replies with another transaction id were discarded"),
    };
    if cut {
        return Err(unreachable(format!(
            "no reply before the --wait deadline ({attempts} of {tries} attempts in {} s){discarded}",
            ms(started.elapsed()) / 1000.0
        )));
    }
    let stray = sock
        .peer_addr()
        .ok()
        .and_then(|peer| stray_reply(peer, &packet, first).map(|from| (peer, from)));
    if let Some((peer, from)) = stray {
        return Err(unreachable(format!(
            "no reply from {peer} after {tries} attempts, but one came from {from}: the tracker answers \
             from another address than the one asked, and every client discards such a reply (a floating \
             address's replies must leave from it)"
        )));
    }
    Err(unreachable(format!(
        "no reply after {tries} attempts ({} s in all){discarded}",
        ms(first * ((1 << tries) - 1)) / 1000.0
    )))
}

/// After a connected socket heard nothing: the same request once more from
/// an unconnected socket, whose replies the kernel does not filter by
/// source. A reply from another address than `peer` is what a client gets
/// when the VM answers from the wrong source; the address it came from.
fn stray_reply(peer: SocketAddr, packet: &[u8], wait: Duration) -> Option<SocketAddr> {
    let local = if peer.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(local).ok()?;
    sock.send_to(packet, peer).ok()?;
    let end = Instant::now() + wait;
    let mut buf = [0u8; 2048];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        sock.set_read_timeout(Some(left)).ok()?;
        match sock.recv_from(&mut buf) {
            Ok((_, from)) if from != peer => return Some(from),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn socket_to(target: &str) -> Result<UdpSocket, Error> {
    let addr: SocketAddr = target
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve {target}: {e}")))?
        .next()
        .ok_or_else(|| unreachable(format!("{target} resolves to no address")))?;
    let local = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(local)
        .map_err(|e| unreachable(format!("cannot open a UDP socket: {e}")))?;
    sock.connect(addr)
        .map_err(|e| unreachable(format!("connect {addr}: {e}")))?;
    Ok(sock)
}

fn announce_request(connection_id: ConnectionId, tid: TransactionId, peer: &Peer) -> Request {
    announce_of(connection_id, tid, peer, *INFO_HASH)
}

fn announce_of(
    connection_id: ConnectionId,
    tid: TransactionId,
    peer: &Peer,
    info_hash: [u8; 20],
) -> Request {
    Request::Announce(AnnounceRequest {
        connection_id,
        action_placeholder: Default::default(),
        transaction_id: tid,
        info_hash: InfoHash(info_hash),
        peer_id: PeerId(*peer.id),
        bytes_downloaded: NumberOfBytes::new(0),
        bytes_left: NumberOfBytes::new(peer.left),
        bytes_uploaded: NumberOfBytes::new(0),
        event: peer.event.into(),
        ip_address: Ipv4AddrBytes([0; 4]), // the sender's
        key: PeerKey::new(tid.0.get()),
        peers_wanted: NumberOfPeers::new(-1), // the tracker's default
        port: Port::new(NonZeroU16::new(peer.port).unwrap_or(NonZeroU16::MIN)),
    })
}

/// One connect and one announce of `info_hash` as the health check's
/// first peer, each sent up to `tries` times from `first` on (doubling, as
/// a client retransmits): `Ok` when the tracker answered, with an announce
/// reply or a refusal (both prove it serves), else why not. What
/// `torrust-bake probe announce-loop` sends, a few times a second, to
/// measure an outage.
pub fn announce_once(
    target: &str,
    info_hash: [u8; 20],
    first: Duration,
    tries: u32,
) -> Result<(), Error> {
    let sock = socket_to(target)?;
    let tid = transaction_id();
    let request = Request::Connect(ConnectRequest {
        transaction_id: tid,
    });
    let connection_id = connected(exchange_tries(&sock, request, tid, 0, first, None, tries))?;
    let tid = transaction_id();
    let request = announce_of(connection_id, tid, &FIRST_PEER, info_hash);
    announced(
        exchange_tries(&sock, request, tid, 1, first, None, tries),
        true,
    )
    .map(|_| ())
}

/// Connect, announce (a refusal passes when the mode refuses strangers),
/// a second peer's announce whose reply must list the first peer
/// (`peers.rs`), scrape: what a BitTorrent client does first. The second
/// peer then leaves (event stopped), so only the first, a seeder, stays in
/// the health torrent's swarm, as before the peer-list check.
pub fn check(
    target: &str,
    timeout: Duration,
    deadline: Option<Instant>,
    refusal_ok: bool,
    external_ip: Option<IpAddr>,
) -> Probe {
    let sock = socket_to(target)?;
    let tid = transaction_id();
    let request = Request::Connect(ConnectRequest {
        transaction_id: tid,
    });
    let connection_id = connected(exchange(&sock, request, tid, 0, timeout, deadline))?;
    let announce = |peer: &Peer| {
        let tid = transaction_id();
        exchange(
            &sock,
            announce_request(connection_id, tid, peer),
            tid,
            1,
            timeout,
            deadline,
        )
    };
    let first = announce(&FIRST_PEER);
    let refused = refusal_ok && matches!(&first, Err(e) if e.kind == Kind::Denied);
    let announced = announced(first, refusal_ok)?;
    let peer_list = if refused {
        "no peer list: the mode refuses unknown torrents".to_string()
    } else {
        let list = listed(announce(&SECOND_PEER))?;
        let local = sock
            .local_addr()
            .map_err(|e| unreachable(format!("reading the socket's own address: {e}")))?;
        let first = SocketAddr::new(peers::expected_ip(local.ip(), external_ip), FIRST_PEER.port);
        let exact = !sock.peer_addr().is_ok_and(|a| a.ip().is_loopback());
        let verdict = peers::verdict(&list, first, exact);
        // Whatever the verdict, the second peer leaves the swarm.
        let _ = announce(&SECOND_PEER.leaving());
        verdict?
    };
    let tid = transaction_id();
    let request = Request::Scrape(ScrapeRequest {
        connection_id,
        transaction_id: tid,
        info_hashes: vec![InfoHash(*INFO_HASH)],
    });
    let seeders = scraped(exchange(&sock, request, tid, 2, timeout, deadline))?;
    Ok(format!(
        "connect, announce ({announced}), {peer_list}, scrape ({seeders} seeders)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(action: i32, tid: i32, rest: &[u8]) -> Vec<u8> {
        let mut r = action.to_be_bytes().to_vec();
        r.extend_from_slice(&tid.to_be_bytes());
        r.extend_from_slice(rest);
        r
    }

    #[test]
    fn replies_are_checked_before_decoding() {
        let tid = TransactionId::new(7);
        assert!(check_reply(&reply(0, 7, &[0; 8]), tid, 0).is_ok());
        let e = check_reply(&reply(0, 8, &[0; 8]), tid, 0).unwrap_err();
        assert!(e.to_string().contains("transaction id 0x00000008"), "{e}");
        let e = check_reply(&[0, 0, 0], tid, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "truncated reply: 3 bytes, a reply has at least 8"
        );
        let e = check_reply(&reply(0, 7, &[1, 2]), tid, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "truncated reply of 10 bytes, expected at least 16"
        );
        let e = check_reply(&reply(3, 7, b"go away\0"), tid, 1).unwrap_err();
        assert_eq!(
            (e.kind, e.to_string()),
            (Kind::Denied, "tracker error: go away".into())
        );
        let e = check_reply(&reply(2, 7, &[]), tid, 1).unwrap_err();
        assert_eq!(e.to_string(), "reply action 2, expected 1");
    }

    #[test]
    fn what_the_probe_concludes() {
        let tid = TransactionId::new(7);
        let mut announce = reply(1, 7, &[]);
        announce.extend_from_slice(&(-1i32).to_be_bytes()); // interval
        announce.extend_from_slice(&[0; 8]); // leechers, seeders
                                             // An interval of -1 is a bad reply, not a refusal (it used to share
                                             // the refusal's stand-in value).
        let e = announced(parse_reply(&announce, tid, 1, true), true).unwrap_err();
        assert_eq!(e.to_string(), "announce: interval -1 is not positive");
        announce[8..12].copy_from_slice(&120i32.to_be_bytes());
        assert_eq!(
            announced(parse_reply(&announce, tid, 1, false), false).unwrap(),
            "interval 120 s"
        );
        let refused = parse_reply(&reply(3, 7, b"no\0"), tid, 1, true);
        assert_eq!(announced(refused, true).unwrap(), "refused as configured");
        let refused = parse_reply(&reply(3, 7, b"no\0"), tid, 1, true);
        assert_eq!(announced(refused, false).unwrap_err().kind, Kind::Denied);
        let e = connected(parse_reply(&reply(0, 7, &[1; 7]), tid, 0, true)).unwrap_err();
        assert!(e.to_string().starts_with("connect: truncated reply"), "{e}");
        // A scrape reply whose statistics are cut short is malformed.
        let e = scraped(parse_reply(&reply(2, 7, &[0; 13]), tid, 2, true)).unwrap_err();
        assert!(e.to_string().starts_with("scrape: malformed reply"), "{e}");
        assert_eq!(
            scraped(parse_reply(&reply(2, 7, &[]), tid, 2, true)).unwrap(),
            0
        );
    }

    #[test]
    fn announce_encodes_as_bep_15_lays_it_out() {
        let tid = TransactionId::new(0x0102_0304);
        let mut bytes = Vec::new();
        announce_request(ConnectionId::new(0x1112_1314_1516_1718), tid, &FIRST_PEER)
            .write_bytes(&mut bytes)
            .unwrap();
        assert_eq!(bytes.len(), 98);
        assert_eq!(&bytes[0..8], &0x1112_1314_1516_1718i64.to_be_bytes());
        assert_eq!(&bytes[8..12], &1i32.to_be_bytes()); // action: announce
        assert_eq!(&bytes[12..16], &[1, 2, 3, 4]);
        assert_eq!(&bytes[16..36], INFO_HASH);
        assert_eq!(&bytes[36..56], FIRST_PEER.id);
        assert_eq!(&bytes[96..98], &6881u16.to_be_bytes());
    }

    #[test]
    fn a_reply_from_another_address_than_the_one_asked_is_named() {
        // A "tracker" on 127.0.0.1 that answers from 127.0.0.2, as a VM
        // whose floating address's replies leave from its own address.
        let asked = UdpSocket::bind("127.0.0.1:0").unwrap();
        let wrong = UdpSocket::bind("127.0.0.2:0").unwrap();
        let target = asked.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            asked
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            // Two requests: the connected socket's, then the unconnected one's.
            for _ in 0..2 {
                let Ok((n, from)) = asked.recv_from(&mut buf) else {
                    return;
                };
                let mut reply = vec![0u8; 16];
                reply[4..8].copy_from_slice(&buf[12..16.min(n)]);
                wrong.send_to(&reply, from).unwrap();
            }
        });
        let sock = socket_to(&target.to_string()).unwrap();
        let tid = transaction_id();
        let request = Request::Connect(ConnectRequest {
            transaction_id: tid,
        });
        let e = exchange_tries(&sock, request, tid, 0, Duration::from_millis(200), None, 1)
            .unwrap_err();
        server.join().unwrap();
        let text = e.to_string();
        assert!(
            text.contains(&format!("no reply from {target}"))
                && text.contains("one came from 127.0.0.2:"),
            "{text}"
        );
    }
}
