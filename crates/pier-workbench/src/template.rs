//! Message templates: text with `{{seq}}`, `{{uuid}}`, `{{now}}` and
//! `{{now_iso}}` placeholders, parsed once and checked before anything is
//! sent.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Seq,
    Uuid,
    Now,
    NowIso,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

/// Placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &["seq", "uuid", "now", "now_iso"];

impl Template {
    /// Parses `text`; an unclosed `{{` or an unknown placeholder is an error
    /// naming where it is.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut at = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                format!(
                    "unclosed {{{{ at character {}",
                    text[..at + open].chars().count()
                )
            })?;
            let name = after[..close].trim();
            parts.push(match name {
                "seq" => Part::Seq,
                "uuid" => Part::Uuid,
                "now" => Part::Now,
                "now_iso" => Part::NowIso,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{{{other}}}}}; known: {}",
                        PLACEHOLDERS
                            .iter()
                            .map(|p| format!("{{{{{p}}}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            });
            let consumed = open + 2 + close + 2;
            at += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self(parts))
    }

    /// Whether the template has no placeholders (every message the same).
    pub fn is_constant(&self) -> bool {
        self.0.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The text for message number `seq`, sent at `now_ms`.
    pub fn render(&self, seq: u64, now_ms: i64) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Seq => out.push_str(&seq.to_string()),
                Part::Uuid => out.push_str(&uuid::Uuid::new_v4().to_string()),
                Part::Now => out.push_str(&now_ms.to_string()),
                Part::NowIso => out.push_str(&iso8601(now_ms)),
            }
        }
        out
    }
}

/// `2026-11-25T15:16:35.123Z` from Unix milliseconds (proleptic Gregorian).
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_render() {
        let t = Template::parse("order-{{seq}} at {{ now }} ({{now_iso}})").unwrap();
        assert_eq!(
            t.render(7, 1_764_083_795_123),
            "order-7 at 1764083795123 (2025-11-25T15:16:35.123Z)"
        );
        assert!(!t.is_constant());
        assert!(Template::parse("plain").unwrap().is_constant());
        let u = Template::parse("{{uuid}}").unwrap().render(0, 0);
        assert_eq!(uuid::Uuid::parse_str(&u).unwrap().get_version_num(), 4);
    }

    #[test]
    fn bad_templates_say_where() {
        let e = Template::parse("abc {{seq").unwrap_err();
        assert_eq!(e, "unclosed {{ at character 4");
        let e = Template::parse("é{{seq}} {{ nope }}").unwrap_err();
        assert!(e.starts_with("unknown placeholder {{nope}}"), "{e}");
        assert!(e.contains("{{uuid}}"), "{e}");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
    }
}
