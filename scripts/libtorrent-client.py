#!/usr/bin/python3
"""A real BitTorrent client for what aria2c cannot do: UDP trackers over IPv6.

aria2c speaks BEP 15 over IPv4 only (its UDP tracker client rides its IPv4
DHT socket, src/DHTSetup.cc). This drives libtorrent-rasterbar, Debian's
python3-libtorrent, the library inside qBittorrent and Deluge: the tracker
protocol, the peer list and the download are all libtorrent's; this file
only starts a session and waits.

    libtorrent-client.py seed  LISTEN DIR TORRENT...   seeds until killed; exits 1
                                                       when a payload in DIR does not
                                                       check out within --timeout s
    libtorrent-client.py leech LISTEN DIR TORRENT      exits 0 once complete, 1 on a
                                                       torrent error or after --timeout s

LISTEN is ADDRESS:PORT ([v6]:port): the session listens there only, so it
announces in that address's family only. DHT, local discovery, UPnP and
NAT-PMP are off: the tracker is the only way peers meet.

One session per process: libtorrent keeps UDP trackers' connection IDs
process-wide, and a tracker that ties its connection ID to the client's
address (Torrust does) refuses a second session's announces with it.
"""
import argparse
import sys
import time

import libtorrent as lt


def session(listen):
    return lt.session({
        "listen_interfaces": listen,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert_category.tracker | lt.alert_category.error,
    })


def say(role, text):
    print(f"libtorrent {role}: {text}", flush=True)


def report(role, ses):
    for a in ses.pop_alerts():
        say(role, f"{type(a).__name__}: {a.message()}")


def unfinished(torrents, handles, seeding):
    rows = []
    for i, h in enumerate(handles):
        if i not in seeding:
            st = h.status()
            rows.append(f"{torrents[i]} {st.progress * 100:.0f} %, {st.num_peers} peers")
    return "; ".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("role", choices=["seed", "leech"])
    p.add_argument("listen")
    p.add_argument("dir")
    p.add_argument("torrents", nargs="+")
    p.add_argument("--timeout", type=float, default=120)
    args = p.parse_args()
    if args.role == "leech" and len(args.torrents) != 1:
        p.error("a leech downloads one torrent")
    ses = session(args.listen)
    handles = [ses.add_torrent({"ti": lt.torrent_info(t), "save_path": args.dir}) for t in args.torrents]
    say(args.role, f"{len(handles)} torrent(s) on {args.listen}")
    start = time.monotonic()
    seeding = set()
    while True:
        report(args.role, ses)
        for i, h in enumerate(handles):
            st = h.status()
            if st.errc.value():
                say(args.role, f"{args.torrents[i]}: {st.errc.message()}")
                return 1
            if st.is_seeding and i not in seeding:
                seeding.add(i)
                say(args.role, f"{args.torrents[i]}: complete, seeding ({time.monotonic() - start:.1f} s)")
        if args.role == "leech" and seeding:
            return 0
        # (A seeder is done waiting once every payload checked out.)
        if len(seeding) < len(handles) and time.monotonic() - start > args.timeout:
            say(args.role, f"incomplete after {args.timeout:.0f} s: {unfinished(args.torrents, handles, seeding)}")
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
