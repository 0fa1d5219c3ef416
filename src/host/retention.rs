//! Retention of a backup set, as a pure function: which dumps `backups-prune` may delete.
//!
//! keep = (verified dumps within `keep_within` of the newest verified dump) ∪ (the newest
//! `keep_min` verified dumps). Only verified dumps count; times are the ones in the names.
//! Unverified or corrupt dumps and dumps named in the future (clock skew) are kept and reported,
//! never deleted, and never serve as the newest. When backups have stopped (the newest verified
//! dump older than twice the schedule), or nothing is verified, nothing is deleted. The property
//! test below checks this over 10,000 random histories.

/// One dump as retention sees it: the time from its name (seconds) and whether it verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dump {
    pub time: i64,
    pub verified: bool,
}

/// Why a dump is kept or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Within keep_within of the newest verified dump.
    Window,
    /// Among the newest keep_min verified dumps.
    Newest,
    /// Not verified: never deleted automatically.
    Unverified,
    /// Named in the future: never deleted automatically.
    Future,
    /// Backups have stopped (or none is verified): nothing is deleted.
    Stopped,
    /// Outside the window and not among the newest: deleted.
    Expired,
}

impl Rule {
    pub fn keeps(self) -> bool {
        self != Rule::Expired
    }
}

/// The rule for each dump of `dumps` (same order).
pub fn plan(dumps: &[Dump], keep_within: i64, keep_min: usize, every: i64, now: i64) -> Vec<Rule> {
    let counted = |d: &Dump| d.verified && d.time <= now;
    let mut verified: Vec<i64> = dumps
        .iter()
        .filter(|d| counted(d))
        .map(|d| d.time)
        .collect();
    verified.sort_unstable_by(|a, b| b.cmp(a));
    let stopped = match verified.first() {
        None => true,
        Some(newest) => now - newest > 2 * every,
    };
    let newest = verified.first().copied().unwrap_or(i64::MIN);
    // The keep_min-th newest verified time: anything at or after it is among the newest.
    let cutoff = verified
        .get(keep_min.saturating_sub(1))
        .copied()
        .unwrap_or(i64::MIN);
    dumps
        .iter()
        .map(|d| {
            if d.time > now {
                Rule::Future
            } else if !d.verified {
                Rule::Unverified
            } else if stopped {
                Rule::Stopped
            } else if newest - d.time <= keep_within {
                Rule::Window
            } else if keep_min > 0 && d.time >= cutoff {
                Rule::Newest
            } else {
                Rule::Expired
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 86_400;

    fn history() -> impl Strategy<Value = (Vec<Dump>, i64)> {
        let dump = (-200 * DAY..5 * DAY, any::<bool>())
            .prop_map(|(t, verified)| Dump { time: t, verified });
        (prop::collection::vec(dump, 0..60), 0..DAY)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        #[test]
        fn retention_never_loses_what_it_promises((dumps, skew) in history()) {
            let now = skew; // dumps lie from 200 days before to 5 days after
            let rules = plan(&dumps, 30 * DAY, 7, DAY, now);
            let counted: Vec<&Dump> = dumps.iter().filter(|d| d.verified && d.time <= now).collect();
            let kept = dumps.iter().zip(&rules).filter(|(d, r)| d.verified && d.time <= now && r.keeps()).count();
            prop_assert!(kept >= counted.len().min(7));
            let newest = counted.iter().map(|d| d.time).max();
            for (d, r) in dumps.iter().zip(&rules) {
                if !r.keeps() {
                    prop_assert!(d.verified && d.time <= now, "only counted dumps are deleted");
                    prop_assert!(newest.unwrap() - d.time > 30 * DAY, "inside the window");
                }
            }
            if newest.is_none_or(|n| now - n > 60 * DAY) {
                prop_assert!(rules.iter().all(|r| r.keeps()), "deleted after backups stopped");
            }
        }
    }

    #[test]
    fn a_daily_history_keeps_thirty_days() {
        let now = 100 * DAY;
        let dumps: Vec<Dump> = (0..100)
            .map(|i| Dump {
                time: i * DAY,
                verified: true,
            })
            .collect();
        let rules = plan(&dumps, 30 * DAY, 7, DAY, now);
        assert_eq!(rules.iter().filter(|r| r.keeps()).count(), 31);
        // Stopped for three days: nothing goes.
        assert!(plan(&dumps, 30 * DAY, 7, DAY, now + 3 * DAY)
            .iter()
            .all(|r| r.keeps()));
    }
}
