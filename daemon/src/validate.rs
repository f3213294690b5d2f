//! Input validation shared by every handler. Each check names the field it
//! refuses, so a client knows exactly what to fix.

use chrono::{DateTime, Utc};

use crate::error::AppError;

/// A page size (`limit`): `default` when absent, else within 1..=max.
pub fn page_limit(given: Option<i64>, default: i64, max: i64) -> Result<i64, AppError> {
    let limit = given.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(AppError::validation(
            "limit",
            format!("must be between 1 and {max}"),
        ))
    }
}

/// An optional RFC 3339 time.
pub fn time(field: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, AppError> {
    v.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                AppError::validation(field, "must be an RFC 3339 time, e.g. 2026-11-27T10:00:00Z")
            })
    })
    .transpose()
}

pub type TimeRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// `from` and `to` as times, `from` not after `to`.
pub fn time_range(from: Option<&str>, to: Option<&str>) -> Result<TimeRange, AppError> {
    let (from, to) = (time("from", from)?, time("to", to)?);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(AppError::validation("from", "must not be after `to`"));
        }
    }
    Ok((from, to))
}

/// NUL, the other C0 controls, DEL and the C1 controls.
pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Where in a JSON document a string (or key) holds a control character
/// other than tab, line feed and carriage return (multi-line text may
/// have those), as a dotted path such as `settings.ip_allow[0]`.
pub fn control_in_json(v: &serde_json::Value) -> Option<String> {
    fn bad(s: &str) -> bool {
        s.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    }
    fn walk(v: &serde_json::Value, at: &str) -> Option<String> {
        match v {
            serde_json::Value::String(s) if bad(s) => Some(at.to_owned()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, x)| walk(x, &format!("{at}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
                let clean: String = k.chars().filter(|c| !c.is_control()).take(64).collect();
                let here = if at == "body" {
                    clean
                } else {
                    format!("{at}.{clean}")
                };
                if bad(k) {
                    Some(here)
                } else {
                    walk(x, &here)
                }
            }),
            _ => None,
        }
    }
    walk(v, "body")
}

/// Zero-width characters: invisible, so two emails that look alike differ.
fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
    )
}

/// Bidirectional formatting characters: they reorder what is displayed.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Normalises an email (Unicode NFKC, then case-folded, trimmed) and
/// checks its shape (not deliverability). Zero-width and bidirectional
/// control characters are refused: they make look-alike addresses.
pub fn email(field: &str, raw: &str) -> Result<String, AppError> {
    use unicode_normalization::UnicodeNormalization;
    let bad = |why: &str| Err(AppError::validation(field, why.to_owned()));
    if raw.chars().any(|c| is_zero_width(c) || is_bidi_control(c)) {
        return bad("must not contain zero-width or bidirectional control characters");
    }
    let e = raw.trim().nfkc().collect::<String>().to_lowercase();
    if e.is_empty() {
        return bad("is required");
    }
    if e.len() > 254 {
        return bad("must be at most 254 characters");
    }
    if has_control(&e) || e.chars().any(char::is_whitespace) {
        return bad("must not contain spaces or control characters");
    }
    let Some((local, domain)) = e.split_once('@') else {
        return bad("is not an email address");
    };
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return bad("is not an email address");
    }
    Ok(e)
}

/// A display name such as an organization's: trimmed, 1..=max characters.
pub fn name(field: &str, raw: &str, max: usize) -> Result<String, AppError> {
    let n = raw.trim();
    if n.is_empty() {
        return Err(AppError::validation(field, "must not be empty"));
    }
    if n.chars().count() > max {
        return Err(AppError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if has_control(n) {
        return Err(AppError::validation(
            field,
            "must not contain control characters",
        ));
    }
    // An override can make a name read as something else (`nimda` as `admin`).
    if n.chars().any(is_bidi_control) {
        return Err(AppError::validation(
            field,
            "must not contain bidirectional control characters",
        ));
    }
    Ok(n.to_owned())
}

pub const SLUG_MAX: usize = 63;

/// Slugs: 3..=63 of `a-z 0-9 -`, not starting or ending with `-`, and not
/// shaped like a UUID (an `org` reference may be either).
pub fn slug(field: &str, raw: &str) -> Result<String, AppError> {
    let s = raw.trim();
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !(3..=SLUG_MAX).contains(&s.len()) {
        return Err(AppError::validation(
            field,
            format!("must be 3 to {SLUG_MAX} characters"),
        ));
    }
    if !ok_chars || s.starts_with('-') || s.ends_with('-') {
        return Err(AppError::validation(
            field,
            "may contain only lowercase letters, digits and inner hyphens",
        ));
    }
    if uuid::Uuid::parse_str(s).is_ok() {
        return Err(AppError::validation(field, "must not look like an id"));
    }
    Ok(s.to_owned())
}

/// Derives a slug from a name: `"Acme Corp."` -> `"acme-corp"`. Short
/// results are padded so they stay valid.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut s: String = out
        .trim_end_matches('-')
        .chars()
        .take(SLUG_MAX - 5)
        .collect();
    s = s.trim_end_matches('-').to_owned();
    if s.len() < 3 {
        s = if s.is_empty() {
            "org".to_owned()
        } else {
            format!("{s}-org")
        };
    }
    s
}

/// A permission name: `area:verb`, lowercase letters and underscores.
pub fn permission_name(field: &str, raw: &str) -> Result<(), AppError> {
    let ok = raw.len() <= 64
        && raw.split_once(':').is_some_and(|(a, v)| {
            let part =
                |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            part(a) && part(v)
        });
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(
            field,
            format!(
                "`{}` is not a permission name (area:verb)",
                truncate(raw, 64)
            ),
        ))
    }
}

/// Keeps echoed input short in error messages.
fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            email("email", " Alice@Example.COM ").ok().as_deref(),
            Some("alice@example.com")
        );
        for bad in [
            "", "alice", "a@b", "a@@b.c", "a b@c.d", "@b.c", "a@.b.c", "a@b.c.", "a@b..c",
        ] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Acme Corp."), "acme-corp");
        assert_eq!(slugify("  Ünïcode --- Name!! "), "n-code-name");
        assert_eq!(slugify("!!"), "org");
        assert_eq!(slugify("ab"), "ab-org");
        assert!(slug("s", &slugify(&"x".repeat(500))).is_ok());
        assert!(slug("s", "ok-slug").is_ok());
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "ABC",
            "a_b",
            "0190a8e2-5c1d-7f3a-8b2c-1234567890ab",
        ] {
            assert!(slug("s", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(name("name", "  ", 10).is_err());
        assert!(name("name", "a\u{0}b", 10).is_err());
        assert!(name("name", &"x".repeat(11), 10).is_err());
    }
}
