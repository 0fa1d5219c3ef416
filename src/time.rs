//! The one time grammar: what `--since`, `--until` and runbook `time` / `duration`
//! parameters accept, parsed in one place.
//!
//! Operators type journalctl's forms, so those are what is accepted:
//!
//! | form | means |
//! | --- | --- |
//! | `now`, `today`, `yesterday`, `tomorrow` | now; local midnight of that day |
//! | `10 minutes ago`, `-10m`, `-2h 30min` | that long before now |
//! | `+10m` | that long after now |
//! | `2h`, `30m`, `1d`, `1w` (a bare duration) | that long before now (as `runbook log --since 2h` reads) |
//! | `2026-11-21` | local midnight of that date |
//! | `2026-11-21 05:00`, `2026-11-21 05:00:30`, `2026-11-21T05:00:30` | local time |
//! | `05:00`, `05:00:30` | that local time today |
//! | `2026-11-21T05:00:30Z`, `2026-11-21T05:00:30+02:00` (RFC 3339) | that instant |
//! | `@1763701200` | seconds since the epoch |
//!
//! Durations are spans with units (`30s`, `10 minutes`, `2h 30min`, `1d`, `1w`), parsed by the
//! `humantime` crate. Everything is bounded: a span of at most 100 years, a time between 1970
//! and 9999, so no input can overflow the arithmetic that follows; an input outside those
//! bounds is an error like any other, never a panic.

use chrono::{DateTime, Duration, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// How the accepted forms are described in error messages and `--help`.
pub const FORMS: &str = "\"10 minutes ago\", \"2h\", \"-2h\", \"now\", \"today\", \"yesterday\", \
\"2026-11-21\", \"2026-11-21 05:00[:00]\", \"2026-11-21T05:00:00Z\" or \"@EPOCH\"";

/// The longest span accepted, in seconds (100 years).
const MAX_SPAN_SECS: u64 = 100 * 366 * 86_400;

/// Why a time or a duration was not understood. The message quotes the input and lists the
/// accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeError(String);

fn bad_time(input: &str, why: &str) -> TimeError {
    TimeError(format!(
        "invalid time {input:?}{why}: use {FORMS}",
        why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({why})")
        }
    ))
}

/// A span of time: `30s`, `10 minutes`, `2h 30min`, `1d`, `1w`. At most 100 years.
pub fn parse_duration(input: &str) -> Result<Duration, TimeError> {
    let s = input.trim();
    let bad = |why: String| {
        TimeError(format!(
            "invalid duration {input:?} ({why}): use a number with a unit, e.g. 30s, 10m, \
             2h 30min, 1d, 1w"
        ))
    };
    if s.is_empty() {
        return Err(bad("empty".into()));
    }
    // humantime wants the unit right after the number ("10minutes"); people write a space.
    let joined = join_numbers_and_units(s);
    let span = humantime::parse_duration(&joined).map_err(|e| bad(e.to_string()))?;
    if span.as_secs() > MAX_SPAN_SECS {
        return Err(bad("longer than 100 years".into()));
    }
    Duration::from_std(span).map_err(|e| bad(e.to_string()))
}

/// `10 minutes 5 s` → `10minutes 5s`: drop the spaces between a number and its unit.
fn join_numbers_and_units(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut words = s.split_whitespace().peekable();
    while let Some(w) = words.next() {
        out.push_str(w);
        let is_number = w.chars().all(|c| c.is_ascii_digit());
        let next_is_unit = words
            .peek()
            .is_some_and(|n| n.chars().next().is_some_and(|c| c.is_alphabetic()));
        if !(is_number && next_is_unit) && words.peek().is_some() {
            out.push(' ');
        }
    }
    out
}

/// A point in time in any of the forms above, relative forms counted from `now`.
pub fn parse_time(input: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, TimeError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(bad_time(input, "empty"));
    }
    let t = match s {
        "now" => now,
        "today" => local_midnight(input, now, 0)?,
        "yesterday" => local_midnight(input, now, -1)?,
        "tomorrow" => local_midnight(input, now, 1)?,
        _ => parse_other(input, s, now)?,
    };
    check_range(input, t)
}

fn parse_other(input: &str, s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, TimeError> {
    let span = |text: &str| parse_duration(text).map_err(|e| bad_time(input, &e.0));
    if let Some(ago) = s.strip_suffix(" ago") {
        return back(input, now, span(ago)?);
    }
    if let Some(rest) = s.strip_prefix('-') {
        return back(input, now, span(rest)?);
    }
    if let Some(rest) = s.strip_prefix('+') {
        return now
            .checked_add_signed(span(rest)?)
            .ok_or_else(|| bad_time(input, "out of range"));
    }
    if let Some(epoch) = s.strip_prefix('@') {
        let secs: i64 = epoch
            .parse()
            .map_err(|_| bad_time(input, "@ takes whole seconds since 1970"))?;
        return DateTime::from_timestamp(secs, 0).ok_or_else(|| bad_time(input, "out of range"));
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) && s.contains(|c: char| c.is_alphabetic()) {
        // `2h`, `30 minutes`: a bare duration, back from now. Dates and times (digits,
        // dashes, colons, a `T` or `Z`) go on to the absolute forms below.
        if let Ok(d) = parse_duration(s) {
            return back(input, now, d);
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return local(input, t);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return local(input, d.and_time(NaiveTime::MIN));
    }
    for fmt in ["%H:%M:%S", "%H:%M"] {
        if let Ok(t) = NaiveTime::parse_from_str(s, fmt) {
            let today = now.with_timezone(&Local).date_naive();
            return local(input, today.and_time(t));
        }
    }
    Err(bad_time(input, ""))
}

fn back(input: &str, now: DateTime<Utc>, span: Duration) -> Result<DateTime<Utc>, TimeError> {
    now.checked_sub_signed(span)
        .ok_or_else(|| bad_time(input, "out of range"))
}

fn local_midnight(input: &str, now: DateTime<Utc>, days: i64) -> Result<DateTime<Utc>, TimeError> {
    let day = now.with_timezone(&Local).date_naive() + Duration::days(days);
    local(input, day.and_time(NaiveTime::MIN))
}

fn local(input: &str, t: NaiveDateTime) -> Result<DateTime<Utc>, TimeError> {
    Local
        .from_local_datetime(&t)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad_time(input, "that local time does not exist"))
}

fn check_range(input: &str, t: DateTime<Utc>) -> Result<DateTime<Utc>, TimeError> {
    let first = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap();
    let last = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
    if t < first || t > last {
        return Err(bad_time(input, "before 1970 or after 9999"));
    }
    Ok(t)
}

/// `@SECONDS`, the form journalctl and the in-process journal reader both take, for a time
/// parsed here: both readers then see exactly the same instant.
pub fn journal_arg(t: DateTime<Utc>) -> String {
    format!("@{}", t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s, now()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, h, m, 0).unwrap()
    }

    #[test]
    fn relative_forms_count_back_from_now() {
        assert_eq!(at("10 minutes ago"), utc(11, 50));
        assert_eq!(at("10min ago"), utc(11, 50));
        assert_eq!(at("-10m"), utc(11, 50));
        assert_eq!(at("2h"), utc(10, 0));
        assert_eq!(at("-2h"), utc(10, 0));
        assert_eq!(at("2 hours ago"), utc(10, 0));
        assert_eq!(at("1h 30min ago"), utc(10, 30));
        assert_eq!(at("+1h"), utc(13, 0));
        assert_eq!(at("now"), now());
        assert_eq!(at("1d"), now() - Duration::days(1));
        assert_eq!(at("1w"), now() - Duration::days(7));
    }

    #[test]
    fn absolute_forms() {
        assert_eq!(
            at("2026-11-20T01:02:03Z"),
            now() - Duration::seconds(125_877)
        );
        assert_eq!(
            at("2026-11-20T01:02:03+01:00"),
            Utc.with_ymd_and_hms(2026, 11, 20, 0, 2, 3).unwrap()
        );
        assert_eq!(
            at("@1763701200"),
            DateTime::from_timestamp(1763701200, 0).unwrap()
        );
        let local_midnight = Local
            .with_ymd_and_hms(2026, 11, 20, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(at("2026-11-20"), local_midnight);
        assert_eq!(at("2026-11-20 00:00"), local_midnight);
        assert_eq!(at("2026-11-20 00:00:00"), local_midnight);
        assert_eq!(at("2026-11-20T00:00:00"), local_midnight);
        let today = now().with_timezone(&Local).date_naive();
        assert_eq!(
            at("today"),
            local(" ", today.and_time(NaiveTime::MIN)).unwrap()
        );
        assert_eq!(at("yesterday"), at("today") - Duration::days(1));
        assert_eq!(at("05:30").with_timezone(&Local).date_naive(), today);
    }

    #[test]
    fn garbage_and_out_of_range_are_errors_not_panics() {
        for bad in [
            "",
            "   ",
            "garbage",
            "h",
            "2x",
            "ago",
            "-",
            "@",
            "@x",
            "2026-13-01",
            "99999999999h",
            "99999999999999999999999h",
            "-99999999999h",
            "@99999999999999999",
            "@-99999999999999999",
            "1000 years ago",
            "$(reboot)",
            "10 minutes ago; rm -rf /",
        ] {
            let e = parse_time(bad, now()).expect_err(bad);
            assert!(e.to_string().contains("10 minutes ago"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::seconds(30));
        assert_eq!(parse_duration("10 minutes").unwrap(), Duration::minutes(10));
        assert_eq!(parse_duration("2h 30min").unwrap(), Duration::minutes(150));
        for bad in ["", "10", "ten minutes", "1000y", "18446744073709551616s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}

/// Any input at all: an answer or an error, never a panic (the parsers feed arithmetic that
/// overflows on extreme values unless they are bounded first).
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    proptest! {
        #[test]
        fn any_text_parses_or_errs(s in "\\PC{0,40}") {
            let _ = parse_time(&s, now());
            let _ = parse_duration(&s);
        }

        #[test]
        fn numbers_with_units_never_overflow(
            n in any::<u64>(),
            unit in prop::sample::select(vec!["s", "m", "h", "d", "w", "y", " minutes", "min", "ms"]),
            sign in prop::sample::select(vec!["", "-", "+", "@"]),
            ago in any::<bool>(),
        ) {
            let s = format!("{sign}{n}{unit}{}", if ago { " ago" } else { "" });
            if let Ok(t) = parse_time(&s, now()) {
                prop_assert!(t.timestamp() >= 0);
            }
        }

        #[test]
        fn valid_spans_go_back_exactly(mins in 0u64..10_000_000) {
            let t = parse_time(&format!("{mins} minutes ago"), now()).unwrap();
            prop_assert_eq!(now() - t, Duration::minutes(mins as i64));
        }
    }
}
