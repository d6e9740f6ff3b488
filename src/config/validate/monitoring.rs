//! Monitoring rules: Prometheus keeps samples longer than it takes to
//! scrape them (a retention shorter than the scrape interval keeps nothing).

use super::kinds::duration_seconds;
use super::Checker;
use crate::config::vars::VarId::*;

pub(super) fn check(c: &mut Checker) {
    let scrape = duration_seconds(&c.text(PROMETHEUS_SCRAPE_INTERVAL));
    let retention = duration_seconds(&c.text(PROMETHEUS_RETENTION_TIME));
    if let (Some(scrape), Some(retention)) = (scrape, retention) {
        if retention <= scrape {
            c.fail(
                PROMETHEUS_RETENTION_TIME,
                format!(
                    "{} keeps samples no longer than the scrape interval {}",
                    c.text(PROMETHEUS_RETENTION_TIME),
                    c.text(PROMETHEUS_SCRAPE_INTERVAL)
                ),
                "keep samples for days (e.g. 15d), or scrape more often",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{about, config, run};
    use super::*;

    #[test]
    fn retention_outlasts_the_scrape_interval() {
        let (_, r) = run(
            "local",
            &[
                (PROMETHEUS_SCRAPE_INTERVAL, "1m"),
                (PROMETHEUS_RETENTION_TIME, "60s"),
            ],
        );
        assert_eq!(
            about(&r, PROMETHEUS_RETENTION_TIME),
            vec!["Error: 60s keeps samples no longer than the scrape interval 1m | keep samples for days (e.g. 15d), or scrape more often | environments/local.env:2"]
        );
        let c = config(&[
            (PROMETHEUS_SCRAPE_INTERVAL, "1m"),
            (PROMETHEUS_RETENTION_TIME, "61s"),
        ]);
        assert_eq!(c.prometheus_retention_time, "61s");
    }
}
