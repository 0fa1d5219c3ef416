//! Times and run ids as the audit store writes and reads them.
//!
//! Stored times are RFC 3339 in UTC with exactly six fractional digits
//! (`2026-11-21T05:12:00.123456Z`), so they sort as text and compare with `>=` in SQL.

use chrono::{DateTime, Local, SecondsFormat, Utc};

/// The current time in the stored format, shared: what an event keeps.
pub fn now() -> std::sync::Arc<str> {
    use std::cell::RefCell;
    // Formatting the date and time of day is the slow part and changes once a second: keep the
    // last second's text per thread and write only the microseconds.
    thread_local! {
        static LAST: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let t = Utc::now();
    let (secs, micros) = (t.timestamp(), t.timestamp_subsec_micros());
    if micros >= 1_000_000 {
        // A leap second: let chrono spell it.
        return format_time(t).into();
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != secs {
            let second = t.format("%Y-%m-%dT%H:%M:%S").to_string();
            *last = (secs, format!("{second}.000000Z"));
        }
        let mut digits = [b'0'; 6];
        let mut m = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (m % 10) as u8;
            m /= 10;
        }
        // Overwrite the six digits before the final `Z`.
        let text = &mut last.1;
        let at = text.len() - 7;
        text.replace_range(
            at..at + 6,
            std::str::from_utf8(&digits).expect("ASCII digits"),
        );
        std::sync::Arc::from(text.as_str())
    })
}

/// A time in the stored format.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parse a stored time. Accepts any RFC 3339 time (for databases edited by hand).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A new run id: the UTC start second and six random hex digits, e.g.
/// `20261121T051200Z-3f9a1c`. Ids sort by start time; the random part keeps concurrent runs
/// apart (a collision is retried by the store).
pub fn new_run_id(start: DateTime<Utc>) -> String {
    let mut bytes = [0u8; 3];
    fill_random(&mut bytes);
    format!("{}-{}", start.format("%Y%m%dT%H%M%SZ"), hex::encode(bytes))
}

fn fill_random(buf: &mut [u8]) {
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        // No getrandom (very old kernel): fall back to the clock and pid, still unique enough
        // because a collision only costs a retry.
        let t = Utc::now().timestamp_subsec_nanos() ^ (std::process::id() << 8);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> (i * 8)) as u8;
        }
    }
}

/// A duration for people: `0.012s`, `4.2s`, `3m05s`, `2h03m`.
pub fn human_duration(secs: f64) -> String {
    if secs < 60.0 {
        if secs < 10.0 {
            format!("{secs:.3}s")
        } else {
            format!("{secs:.1}s")
        }
    } else if secs < 3600.0 {
        let s = secs as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = secs as u64 / 60;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

/// A stored time in local time for terminals: `2026-11-21 06:12:00`.
pub fn local_display(stored: &str) -> String {
    match parse_time(stored) {
        Some(t) => t
            .with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        None => stored.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stored_format() {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 5, 12, 0).unwrap()
            + chrono::Duration::microseconds(123_456);
        assert_eq!(format_time(t), "2026-11-21T05:12:00.123456Z");
        assert_eq!(parse_time("2026-11-21T05:12:00.123456Z"), Some(t));
        let whole = Utc.with_ymd_and_hms(2026, 11, 21, 5, 12, 0).unwrap();
        assert_eq!(format_time(whole), "2026-11-21T05:12:00.000000Z");
    }

    #[test]
    fn now_matches_the_stored_format() {
        for _ in 0..1000 {
            let a = now();
            let parsed = parse_time(&a).unwrap();
            assert_eq!(format_time(parsed), *a);
        }
    }

    #[test]
    fn run_ids() {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 5, 12, 0).unwrap();
        let id = new_run_id(t);
        assert_eq!(id.len(), "20261121T051200Z-3f9a1c".len());
        assert!(id.starts_with("20261121T051200Z-"));
        assert_ne!(new_run_id(t), new_run_id(t));
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(0.0123), "0.012s");
        assert_eq!(human_duration(12.34), "12.3s");
        assert_eq!(human_duration(185.0), "3m05s");
        assert_eq!(human_duration(7380.0), "2h03m");
    }
}
