//! What the generated monitoring reads: the tracker's stats fields the
//! exporter turns into metrics, and the Grafana dashboard's panels over
//! them (rendered by grafana-tracker-dashboard.json.tera).

use serde::Serialize;

/// Fields of tracker 3.0's `/api/v1/stats` exported as metrics.
pub(super) const STATS_FIELDS: &[&str] = &[
    "torrents",
    "seeders",
    "completed",
    "leechers",
    "tcp4_connections_handled",
    "tcp4_announces_handled",
    "tcp4_scrapes_handled",
    "tcp6_connections_handled",
    "tcp6_announces_handled",
    "tcp6_scrapes_handled",
    "udp4_connections_handled",
    "udp4_announces_handled",
    "udp4_scrapes_handled",
    "udp6_connections_handled",
    "udp6_announces_handled",
    "udp6_scrapes_handled",
];

#[derive(Serialize)]
pub(super) struct Panel {
    title: &'static str,
    x: u32,
    y: u32,
    exprs: Vec<Expr>,
}

#[derive(Serialize)]
struct Expr {
    ref_id: char,
    expr: String,
    legend: String,
}

pub(super) fn dashboard_panels() -> Vec<Panel> {
    let rate = |proto: &str, what: &str| -> Vec<Expr> {
        ["4", "6"]
            .iter()
            .zip(['A', 'B'])
            .map(|(v, ref_id)| Expr {
                ref_id,
                expr: format!("rate(torrust_tracker_{proto}{v}_{what}_handled[5m])"),
                legend: format!("{proto}{v}"),
            })
            .collect()
    };
    let gauge = |names: &[&str]| -> Vec<Expr> {
        names
            .iter()
            .zip('A'..)
            .map(|(n, ref_id)| Expr {
                ref_id,
                expr: format!("torrust_tracker_{n}"),
                legend: n.to_string(),
            })
            .collect()
    };
    let specs: Vec<(&'static str, Vec<Expr>)> = vec![
        ("Torrents", gauge(&["torrents"])),
        ("Peers", gauge(&["seeders", "leechers"])),
        ("Completed downloads", gauge(&["completed"])),
        ("UDP announces / s", rate("udp", "announces")),
        ("UDP connects / s", rate("udp", "connections")),
        ("UDP scrapes / s", rate("udp", "scrapes")),
        ("HTTP announces / s", rate("tcp", "announces")),
        ("HTTP scrapes / s", rate("tcp", "scrapes")),
    ];
    specs
        .into_iter()
        .enumerate()
        .map(|(i, (title, exprs))| Panel {
            title,
            x: (i as u32 % 2) * 12,
            y: (i as u32 / 2) * 8,
            exprs,
        })
        .collect()
}
