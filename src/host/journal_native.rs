//! Counting journal entries in this process, through libsystemd's sd-journal API.
//!
//! `journalctl` takes about 4.5 ms to start (it loads systemd's shared library) before it reads
//! a byte, and counting the last ten minutes' errors was the slowest read of a triage. The
//! library is loaded at run time (`dlopen("libsystemd.so.0")`), so the binary neither links
//! nor needs it: where it is missing, or for anything this module does not handle, the caller
//! runs journalctl as before.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

type Journal = *mut c_void;

type OpenFn = unsafe extern "C" fn(*mut Journal, c_int) -> c_int;
type OpenDirectoryFn = unsafe extern "C" fn(*mut Journal, *const c_char, c_int) -> c_int;
type CloseFn = unsafe extern "C" fn(Journal);
type AddMatchFn = unsafe extern "C" fn(Journal, *const c_void, usize) -> c_int;
type SeekFn = unsafe extern "C" fn(Journal, u64) -> c_int;
type NextFn = unsafe extern "C" fn(Journal) -> c_int;
type GetDataFn =
    unsafe extern "C" fn(Journal, *const c_char, *mut *const c_void, *mut usize) -> c_int;

/// The sd-journal functions used here (see sd-journal(3)).
struct Api {
    open: OpenFn,
    open_directory: OpenDirectoryFn,
    close: CloseFn,
    add_match: AddMatchFn,
    seek_realtime_usec: SeekFn,
    next: NextFn,
    get_data: GetDataFn,
}

/// SD_JOURNAL_LOCAL_ONLY: this machine's journal, as journalctl reads it by default.
const LOCAL_ONLY: c_int = 1;

fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| {
        // SAFETY: dlopen/dlsym with NUL-terminated names; each symbol is cast to the
        // signature sd-journal(3) documents for it.
        unsafe {
            let lib = libc::dlopen(
                c"libsystemd.so.0".as_ptr(),
                libc::RTLD_NOW | libc::RTLD_LOCAL,
            );
            if lib.is_null() {
                return None;
            }
            let sym = |name: &CStr| {
                let p = libc::dlsym(lib, name.as_ptr());
                (!p.is_null()).then_some(p)
            };
            use std::mem::transmute;
            Some(Api {
                open: transmute::<*mut c_void, OpenFn>(sym(c"sd_journal_open")?),
                open_directory: transmute::<*mut c_void, OpenDirectoryFn>(sym(
                    c"sd_journal_open_directory",
                )?),
                close: transmute::<*mut c_void, CloseFn>(sym(c"sd_journal_close")?),
                add_match: transmute::<*mut c_void, AddMatchFn>(sym(c"sd_journal_add_match")?),
                seek_realtime_usec: transmute::<*mut c_void, SeekFn>(sym(
                    c"sd_journal_seek_realtime_usec",
                )?),
                next: transmute::<*mut c_void, NextFn>(sym(c"sd_journal_next")?),
                get_data: transmute::<*mut c_void, GetDataFn>(sym(c"sd_journal_get_data")?),
            })
        }
    })
    .as_ref()
}

/// The value of `field` in the current entry, if it has one.
///
/// # Safety
/// `j` must be an open journal positioned on an entry.
unsafe fn field(api: &Api, j: Journal, field: &CStr) -> Option<String> {
    let mut data: *const c_void = std::ptr::null();
    let mut len = 0usize;
    // SAFETY: per the function's contract; the data stays valid until the next call on `j`.
    let bytes = unsafe {
        if (api.get_data)(j, field.as_ptr(), &mut data, &mut len) < 0 || data.is_null() {
            return None;
        }
        std::slice::from_raw_parts(data.cast::<u8>(), len)
    };
    // The data is `FIELD=value`.
    let value = bytes.get(field.to_bytes().len() + 1..)?;
    Some(String::from_utf8_lossy(value).into_owned())
}

/// Entries of priority err or worse (0-3) since `since_usec` (microseconds since the epoch),
/// at most `max`, counted by unit (`UNIT`, else `_SYSTEMD_UNIT`), else syslog identifier,
/// else "unknown": what `error_counts` counts from journalctl's output. `dir` reads the
/// journal files of that directory instead of this machine's. None when libsystemd or the
/// journal cannot be opened here.
pub fn error_counts(
    since_usec: u64,
    max: u64,
    dir: Option<&str>,
) -> Option<(u64, BTreeMap<String, u64>)> {
    let api = api()?;
    let dir = dir.map(std::ffi::CString::new).transpose().ok()?;
    let mut j: Journal = std::ptr::null_mut();
    // SAFETY: sd-journal calls on the journal opened here, closed before returning.
    unsafe {
        let opened = match &dir {
            Some(d) => (api.open_directory)(&mut j, d.as_ptr(), 0),
            None => (api.open)(&mut j, LOCAL_ONLY),
        };
        if opened < 0 || j.is_null() {
            return None;
        }
        let mut ok = true;
        for m in ["PRIORITY=0", "PRIORITY=1", "PRIORITY=2", "PRIORITY=3"] {
            // Matches on one field are alternatives.
            ok &= (api.add_match)(j, m.as_ptr().cast(), m.len()) >= 0;
        }
        ok &= (api.seek_realtime_usec)(j, since_usec) >= 0;
        let mut total = 0u64;
        let mut by_unit: BTreeMap<String, u64> = BTreeMap::new();
        while ok && total < max {
            let r = (api.next)(j);
            if r < 0 {
                ok = false;
            }
            if r <= 0 {
                break;
            }
            let key = field(api, j, c"UNIT")
                .or_else(|| field(api, j, c"_SYSTEMD_UNIT"))
                .or_else(|| field(api, j, c"SYSLOG_IDENTIFIER"))
                .unwrap_or_else(|| "unknown".into());
            total += 1;
            *by_unit.entry(key).or_default() += 1;
        }
        (api.close)(j);
        ok.then_some((total, by_unit))
    }
}

/// A `since` that this module understands, as microseconds since the epoch: `@SECONDS` (what
/// RFC 3339 times become), `N UNIT ago` and `-N UNIT` with seconds, minutes, hours or days.
/// Anything else (`today`, `yesterday`, dates) is left to journalctl.
pub fn since_usec(since: &str, now: chrono::DateTime<chrono::Utc>) -> Option<u64> {
    let s = since.trim();
    if let Some(secs) = s.strip_prefix('@') {
        return secs.parse::<u64>().ok()?.checked_mul(1_000_000);
    }
    let (amount, unit) = if let Some(rest) = s.strip_suffix(" ago") {
        let (n, unit) = rest.trim().split_once(' ')?;
        (n.parse::<i64>().ok()?, unit.trim())
    } else {
        let rest = s.strip_prefix('-')?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        (rest[..digits].parse::<i64>().ok()?, rest[digits..].trim())
    };
    let seconds = match unit {
        "s" | "sec" | "second" | "seconds" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return None,
    };
    let start = now.timestamp_micros() - amount.checked_mul(seconds)?.checked_mul(1_000_000)?;
    u64::try_from(start).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let at = |s| since_usec(s, now);
        assert_eq!(
            at("10 minutes ago"),
            Some((1_800_000_000 - 600) * 1_000_000)
        );
        assert_eq!(at("-10m"), Some((1_800_000_000 - 600) * 1_000_000));
        assert_eq!(at("2 hours ago"), Some((1_800_000_000 - 7200) * 1_000_000));
        assert_eq!(at("-1d"), Some((1_800_000_000 - 86_400) * 1_000_000));
        assert_eq!(at("@1799999000"), Some(1_799_999_000 * 1_000_000));
        for other in [
            "today",
            "yesterday",
            "2026-11-21 08:00",
            "10 fortnights ago",
            "-m",
        ] {
            assert_eq!(at(other), None, "{other}");
        }
    }
}
