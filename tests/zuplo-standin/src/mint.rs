//! Identifiers, API keys and timestamps in the shapes Zuplo emits.
//!
//! The client under test parses these values (and may validate the key checksum), so the
//! stand-in has to produce exactly the observed formats (zuplo.md §1, §6) rather than any
//! convenient placeholder. Timestamps are formatted by hand so that the crate does not need
//! a date library for one fixed format.

use std::time::{SystemTime, UNIX_EPOCH};

/// Prefix of every API key minted by Zuplo's default key format.
const KEY_PREFIX: &str = "zpka_";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` random base62 characters, drawn from UUIDv4 randomness (the crate's only CSPRNG).
fn random_base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        for (i, b) in bytes.into_iter().enumerate() {
            // Bytes 6 and 8 carry the UUID version and variant bits, so they are not uniform.
            // Values 248..=255 are rejected so that `b % 62` is unbiased.
            if i == 6 || i == 8 || b >= 248 {
                continue;
            }
            out.push(char::from(BASE62[usize::from(b % 62)]));
            if out.len() == n {
                break;
            }
        }
    }
    out
}

/// A consumer id: `csmr_` + 24 base62 characters.
pub(crate) fn consumer_id() -> String {
    format!("csmr_{}", random_base62(24))
}

/// An API key id: `key_` + 24 base62 characters.
pub(crate) fn key_id() -> String {
    format!("key_{}", random_base62(24))
}

/// A manager id: `eusr_` + 24 base62 characters.
pub(crate) fn manager_id() -> String {
    format!("eusr_{}", random_base62(24))
}

/// The checksum part of a Zuplo API key: CRC-32 (IEEE) of the body's ASCII bytes as
/// 8 lowercase hex digits (zuplo.md §6).
pub fn key_checksum(body: &str) -> String {
    format!("{:08x}", crc32fast::hash(body.as_bytes()))
}

/// A fresh key in Zuplo's default format: `zpka_<32 lowercase hex>_<crc32 of those 32 chars>`.
pub fn mint_key() -> String {
    let body = uuid::Uuid::new_v4().simple().to_string();
    let sum = key_checksum(&body);
    format!("{KEY_PREFIX}{body}_{sum}")
}

/// Whether `key` has Zuplo's default key structure and a correct checksum.
pub fn is_valid_key(key: &str) -> bool {
    let Some(rest) = key.strip_prefix(KEY_PREFIX) else {
        return false;
    };
    let Some((body, sum)) = rest.split_once('_') else {
        return false;
    };
    body.len() == 32
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && sum == key_checksum(body)
}

/// The masked display form: `"****"` followed by the last 8 characters of the key.
pub(crate) fn mask_key(key: &str) -> String {
    let count = key.chars().count();
    let tail: String = key.chars().skip(count.saturating_sub(8)).collect();
    format!("****{tail}")
}

/// ISO-8601 UTC with milliseconds, e.g. `2023-02-03T21:33:17.067Z`.
pub(crate) fn iso8601(t: SystemTime) -> String {
    // A clock before 1970 is not a case worth a failure path; it renders as the epoch.
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let millis = i64::try_from(since.as_millis()).unwrap_or(i64::MAX / 2);
    iso8601_millis(millis)
}

/// [`iso8601`] for milliseconds since the epoch, which may be negative (a client may send
/// an `expiresOn` before 1970).
fn iso8601_millis(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The current time in [`iso8601`] form.
pub(crate) fn now() -> String {
    iso8601(SystemTime::now())
}

/// Parses an RFC 3339 `date-time` (the OpenAPI `format: date-time`) and returns it in
/// [`iso8601`] form, i.e. in UTC with milliseconds, which is how Zuplo renders every
/// timestamp it returns. `None` when the text is not an RFC 3339 date-time, or when its UTC
/// form falls outside years 0000..=9999 (which the four-digit form cannot express).
///
/// RFC 3339 §5.6 is followed literally: `T` and `Z` may be lower case, the offset is `Z` or
/// `±hh:mm`, a fraction has at least one digit (digits past milliseconds are truncated), and
/// second 60 (a leap second) is allowed and lands on the next minute, since the output has
/// no way to name it. Date-only values, missing offsets and a space separator are refused.
pub(crate) fn normalize_date_time(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter()
            .try_fold(0i64, |n, d| Some(n * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }

    let mut i = 19;
    let mut millis = 0;
    if at(i, b".") {
        let start = i + 1;
        let end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
        if end == start {
            return None;
        }
        // Pad or truncate the fraction to exactly three digits.
        millis = (0..3).fold(0, |n, k| {
            n * 10
                + b.get(start + k)
                    .filter(|_| start + k < end)
                    .map_or(0, |d| i64::from(d - b'0'))
        });
        i = end;
    }
    let offset_minutes = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |x: u8, y: u8| -> Option<i64> {
                (x.is_ascii_digit() && y.is_ascii_digit())
                    .then(|| i64::from(x - b'0') * 10 + i64::from(y - b'0'))
            };
            let (oh, om) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let minutes = oh * 60 + om;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };

    let local_secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let utc_millis = (local_secs - offset_minutes * 60) * 1000 + millis;
    // 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z as milliseconds since the epoch.
    let range = days_from_civil(0, 1, 1) * 86_400_000..days_from_civil(10_000, 1, 1) * 86_400_000;
    range
        .contains(&utc_millis)
        .then(|| iso8601_millis(utc_millis))
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`]).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = (month + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + day - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian (year, month, day) for a count of days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both values are in small, proven ranges, so the conversions cannot fail.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn documentation_key_checksum_validates() {
        assert_eq!(key_checksum("d67b7e241bb948758f415b79aa8ec822"), "2efb7009");
        assert!(is_valid_key(
            "zpka_d67b7e241bb948758f415b79aa8ec822_2efb7009"
        ));
    }

    #[test]
    fn corrupted_keys_do_not_validate() {
        for bad in [
            "zpka_d67b7e241bb948758f415b79aa8ec822_2efb7008", // wrong checksum
            "zpka_d67b7e241bb948758f415b79aa8ec823_2efb7009", // body changed
            "zpka_D67B7E241BB948758F415B79AA8EC822_2efb7009", // uppercase body
            "zpkb_d67b7e241bb948758f415b79aa8ec822_2efb7009", // prefix
            "zpka_d67b7e241bb948758f415b79aa8ec82_2efb7009",  // 31 chars
            "zpka_d67b7e241bb948758f415b79aa8ec822",          // no checksum
            "",
        ] {
            assert!(!is_valid_key(bad), "{bad} should not validate");
        }
    }

    #[test]
    fn minted_keys_have_the_documented_shape() {
        for _ in 0..100 {
            let key = mint_key();
            assert_eq!(key.len(), 46, "{key}");
            assert!(is_valid_key(&key), "{key}");
            // The body is a UUIDv4 in simple form: version nibble 4 at index 12.
            assert_eq!(&key[5 + 12..5 + 13], "4", "{key}");
        }
        assert_ne!(mint_key(), mint_key());
    }

    #[test]
    fn ids_have_prefix_and_24_base62_chars() {
        for (id, prefix) in [
            (consumer_id(), "csmr_"),
            (key_id(), "key_"),
            (manager_id(), "eusr_"),
        ] {
            let rest = id.strip_prefix(prefix).unwrap();
            assert_eq!(rest.len(), 24, "{id}");
            assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
        assert_ne!(consumer_id(), consumer_id());
    }

    #[test]
    fn base62_uses_the_whole_alphabet() {
        let sample = random_base62(5000);
        let distinct: std::collections::BTreeSet<char> = sample.chars().collect();
        assert_eq!(distinct.len(), 62);
    }

    #[test]
    fn masks_keep_the_last_eight_characters() {
        assert_eq!(
            mask_key("zpka_d67b7e241bb948758f415b79aa8ec822_2efb7009"),
            "****2efb7009"
        );
        assert_eq!(mask_key("abc"), "****abc");
    }

    #[test]
    fn normalizes_rfc3339_date_times_to_utc_millis() {
        for (input, expected) in [
            ("2026-12-16T00:00:00.000Z", "2026-12-16T00:00:00.000Z"),
            ("2026-12-16T00:00:00Z", "2026-12-16T00:00:00.000Z"),
            ("2026-12-16t00:00:00z", "2026-12-16T00:00:00.000Z"),
            ("2026-12-16T00:00:00.5Z", "2026-12-16T00:00:00.500Z"),
            ("2026-12-16T00:00:00.123456789Z", "2026-12-16T00:00:00.123Z"),
            ("2026-12-16T01:30:00+02:00", "2026-12-15T23:30:00.000Z"),
            ("2026-12-31T23:00:00-01:30", "2027-01-01T00:30:00.000Z"),
            ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000Z"),
            ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000Z"),
            ("1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"),
            ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000Z"),
            ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(
                normalize_date_time(input).as_deref(),
                Some(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_an_rfc3339_date_time() {
        for bad in [
            "",
            "2026-12-16",
            "2026-12-16T00:00:00",
            "2026-12-16 00:00:00Z",
            "2026-12-16T00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-12-16T24:00:00Z",
            "2026-12-16T00:60:00Z",
            "2026-12-16T00:00:61Z",
            "2026-12-16T00:00:00.Z",
            "2026-12-16T00:00:00+0200",
            "2026-12-16T00:00:00+24:00",
            "2026-12-16T00:00:00ZZ",
            "+2026-12-16T00:00:00Z",
            "2026-1-16T00:00:00Z",
            "tomorrow",
            "0000-01-01T00:00:00+00:01",
            "9999-12-31T23:59:59-00:01",
        ] {
            assert_eq!(normalize_date_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in [-800_000, -719_468, -1, 0, 1, 59, 11_016, 19_783, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
    }

    #[test]
    fn formats_iso8601_with_millis() {
        let at = |ms: u64| iso8601(UNIX_EPOCH + Duration::from_millis(ms));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(1_675_459_997_067), "2023-02-03T21:33:17.067Z");
        assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(951_782_399_999), "2000-02-28T23:59:59.999Z");
        assert_eq!(at(4_102_444_799_005), "2099-12-31T23:59:59.005Z");
        assert_eq!(at(1_709_251_200_000), "2024-03-01T00:00:00.000Z");
    }
}
