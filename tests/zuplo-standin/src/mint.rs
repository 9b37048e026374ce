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
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The current time in [`iso8601`] form.
pub(crate) fn now() -> String {
    iso8601(SystemTime::now())
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
