//! Parsing and formatting of single values: the small, hot helpers the encoder and the schema
//! inferrer share. Fast paths for the common ISO layouts; chrono for everything else.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// 1970-01-01, the Arrow epoch.
pub(crate) fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
}

/// Days since the Arrow epoch.
pub(crate) fn days_of(d: NaiveDate) -> i64 {
    d.signed_duration_since(epoch()).num_days()
}

/// The date `days` after the epoch, if representable.
pub(crate) fn date_of_days(days: i64) -> Option<NaiveDate> {
    epoch().checked_add_signed(chrono::TimeDelta::try_days(days)?)
}

/// Seconds since the Arrow epoch.
pub(crate) fn seconds_of(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

/// The instant `secs` after the epoch, if representable.
pub(crate) fn datetime_of_seconds(secs: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc())
}

/// Parse a whole number. Accepts an optional sign and surrounding spaces, and also a decimal
/// with an all-zero fraction (`"12.0"`, as pandas writes integer columns that hold nulls).
pub(crate) fn parse_i64(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let (int, frac) = t.split_once('.')?;
    if !frac.is_empty() && frac.bytes().all(|b| b == b'0') && !int.is_empty() {
        int.parse::<i64>().ok()
    } else {
        None
    }
}

/// Parse a finite real number.
pub(crate) fn parse_f64(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parse `YYYY-MM-DD` without going through chrono's format machinery.
pub(crate) fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.trim().as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        digits(&b[0..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )
}

/// Parse a date with an optional chrono format (ISO when `None`).
pub(crate) fn parse_date(s: &str, format: Option<&str>) -> Option<NaiveDate> {
    match format {
        None => parse_iso_date(s),
        Some(f) => NaiveDate::parse_from_str(s.trim(), f).ok(),
    }
}

/// Parse an ISO datetime: `YYYY-MM-DD[T ]HH:MM[:SS[.fff]]`, optionally ending in `Z`; a bare
/// date is midnight.
pub(crate) fn parse_iso_datetime(s: &str) -> Option<NaiveDateTime> {
    let t = s.trim();
    let t = t.strip_suffix('Z').unwrap_or(t);
    let b = t.as_bytes();
    if b.len() == 10 {
        return parse_iso_date(t)?.and_hms_opt(0, 0, 0);
    }
    if b.len() < 16 || (b[10] != b'T' && b[10] != b' ') || b[13] != b':' {
        return None;
    }
    let date = parse_iso_date(&t[..10])?;
    let (h, m) = (digits(&b[11..13])?, digits(&b[14..16])?);
    let (sec, rest) = if b.len() >= 19 && b[16] == b':' {
        (digits(&b[17..19])?, &t[19..])
    } else {
        (0, &t[16..])
    };
    let nanos = if rest.is_empty() {
        0
    } else {
        let frac = rest.strip_prefix('.')?;
        if frac.is_empty() || frac.len() > 9 {
            return None;
        }
        digits(frac.as_bytes())? * 10u32.pow(9 - frac.len() as u32)
    };
    date.and_hms_nano_opt(h, m, sec, nanos)
}

/// Parse a datetime with an optional chrono format (ISO when `None`).
pub(crate) fn parse_datetime(s: &str, format: Option<&str>) -> Option<NaiveDateTime> {
    match format {
        None => parse_iso_datetime(s),
        Some(f) => NaiveDateTime::parse_from_str(s.trim(), f).ok(),
    }
}

/// Whether `s` is the canonical decimal text of an integer (no leading zeros, no `+`), so
/// that reading it as a number and writing it back gives the same text.
pub(crate) fn is_canonical_integer(s: &str) -> bool {
    match s.parse::<i64>() {
        Ok(v) => v.to_string() == s,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_accept_zero_fractions_only() {
        assert_eq!(parse_i64(" 42 "), Some(42));
        assert_eq!(parse_i64("-7"), Some(-7));
        assert_eq!(parse_i64("12.0"), Some(12));
        assert_eq!(parse_i64("12.5"), None);
        assert_eq!(parse_i64("abc"), None);
        assert_eq!(parse_i64(""), None);
        assert_eq!(parse_i64(".0"), None);
    }

    #[test]
    fn floats_must_be_finite() {
        assert_eq!(parse_f64("1.5"), Some(1.5));
        assert_eq!(parse_f64("NaN"), None);
        assert_eq!(parse_f64("inf"), None);
    }

    #[test]
    fn iso_dates_and_datetimes() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(parse_iso_date("2024-02-29"), Some(d));
        assert_eq!(parse_iso_date("2023-02-29"), None);
        assert_eq!(parse_iso_date("2024-2-29"), None);
        let t = d.and_hms_opt(10, 30, 0).unwrap();
        assert_eq!(parse_iso_datetime("2024-02-29T10:30"), Some(t));
        assert_eq!(parse_iso_datetime("2024-02-29 10:30:00"), Some(t));
        assert_eq!(parse_iso_datetime("2024-02-29T10:30:00Z"), Some(t));
        assert_eq!(
            parse_iso_datetime("2024-02-29T10:30:00.250"),
            d.and_hms_milli_opt(10, 30, 0, 250)
        );
        assert_eq!(parse_iso_datetime("2024-02-29"), d.and_hms_opt(0, 0, 0));
        assert_eq!(parse_iso_datetime("2024-02-29T25:30"), None);
        assert_eq!(
            parse_date("29/02/2024", Some("%d/%m/%Y")),
            Some(d),
            "UK format through an explicit chrono format"
        );
    }

    #[test]
    fn epoch_arithmetic_round_trips() {
        let d = NaiveDate::from_ymd_opt(1931, 7, 4).unwrap();
        assert_eq!(date_of_days(days_of(d)), Some(d));
        let t = d.and_hms_opt(23, 59, 1).unwrap();
        assert_eq!(datetime_of_seconds(seconds_of(t)), Some(t));
    }

    #[test]
    fn canonical_integers() {
        assert!(is_canonical_integer("10"));
        assert!(is_canonical_integer("-3"));
        assert!(!is_canonical_integer("01"));
        assert!(!is_canonical_integer("+1"));
        assert!(!is_canonical_integer("1.0"));
    }
}
