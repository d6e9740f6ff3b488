//! Tracker rules: the announce intervals agree.

use super::Checker;
use crate::config::vars::VarId::*;

pub(super) fn check(c: &mut Checker) {
    let interval = c.number(TORRUST_TRACKER_ANNOUNCE_INTERVAL);
    let min = c.number(TORRUST_TRACKER_ANNOUNCE_INTERVAL_MIN);
    if min > interval {
        c.fail(
            TORRUST_TRACKER_ANNOUNCE_INTERVAL_MIN,
            format!("{min} is above the announce interval {interval}"),
            "make the minimum at most TORRUST_TRACKER_ANNOUNCE_INTERVAL",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{about, config, run};
    use super::*;
    use crate::config::types::TrackerMode;

    #[test]
    fn the_minimum_interval_is_at_most_the_interval() {
        let (_, r) = run(
            "local",
            &[
                (TORRUST_TRACKER_ANNOUNCE_INTERVAL, "300"),
                (TORRUST_TRACKER_ANNOUNCE_INTERVAL_MIN, "301"),
            ],
        );
        assert_eq!(
            about(&r, TORRUST_TRACKER_ANNOUNCE_INTERVAL_MIN),
            vec!["Error: 301 is above the announce interval 300 | make the minimum at most TORRUST_TRACKER_ANNOUNCE_INTERVAL | environments/local.env:2"]
        );
        let c = config(&[
            (TORRUST_TRACKER_ANNOUNCE_INTERVAL, "300"),
            (TORRUST_TRACKER_ANNOUNCE_INTERVAL_MIN, "300"),
        ]);
        assert_eq!((c.announce_interval, c.announce_interval_min), (300, 300));
    }

    #[test]
    fn the_mode_is_typed() {
        assert_eq!(config(&[]).mode, TrackerMode::Public);
        let c = config(&[(TORRUST_TRACKER_MODE, "whitelisted")]);
        assert_eq!(c.mode, TrackerMode::Whitelisted);
        let (_, r) = run("local", &[(TORRUST_TRACKER_MODE, "closed")]);
        assert_eq!(
            about(&r, TORRUST_TRACKER_MODE),
            vec!["Error: 'closed' is not one of public, private, whitelisted | use one of: public, private, whitelisted | environments/local.env:1"]
        );
    }
}
