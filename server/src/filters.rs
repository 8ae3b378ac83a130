//! The session filters (contract §3 and §6): one parser and one matcher,
//! used by the sessions list (`GET /api/v1/sessions`) and by every
//! insights endpoint, so that a segment means the same everywhere.
//!
//! Every filter is answered from a session's metadata ([`SessionMeta`],
//! with its [`crate::digest::SessionInsights`]): no chunk is read. Empty
//! values count as absent (a search form submits every field); an unknown
//! name or a bad value is an error naming it, which the API answers `400`.

use crate::digest::Device;
use crate::index::{parse_rfc3339_ms, SessionMeta, MAX_TIME_MS};
use reel_shared::SessionId;
use std::collections::HashMap;

/// Every filter's name. (`project`, contract §8, is added here with
/// projects: a name in this list, a field, a parse line, a match line.)
pub const NAMES: &[&str] = &[
    "url",
    "user",
    "since",
    "until",
    "min_duration_ms",
    "has_errors",
    "device",
    "browser",
    "os",
    "referrer",
    "utm_source",
    "visited",
    "event",
    "new_visitor",
    "has_rage_clicks",
    "has_dead_clicks",
    "has_error_clicks",
    "visitor",
    "ids",
    "project",
];

/// A filter value (a URL pattern, a name) longer than this is refused:
/// nothing real is that long, and each is matched against every session.
pub const MAX_VALUE_BYTES: usize = 2 * 1024;
/// Session ids one `ids` filter may list (a funnel's drop-off lists 100).
pub const MAX_IDS: usize = 100;

/// The filters of one request, validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filters {
    /// Substring of any page's URL (as `visited`).
    pub url: Option<String>,
    pub user: Option<String>,
    /// Sessions that started in `[since, until]` (ms).
    pub since_ms: Option<u64>,
    pub until_ms: Option<u64>,
    pub min_duration_ms: Option<u64>,
    pub has_errors: Option<bool>,
    pub device: Option<Device>,
    /// Browser and OS names as the items show them, any case.
    pub browser: Option<String>,
    pub os: Option<String>,
    /// Substring of the landing page's referrer.
    pub referrer: Option<String>,
    pub utm_source: Option<String>,
    /// Substring of any page's URL.
    pub visited: Option<String>,
    /// A custom event's name, exactly.
    pub event: Option<String>,
    pub new_visitor: Option<bool>,
    pub has_rage_clicks: Option<bool>,
    pub has_dead_clicks: Option<bool>,
    pub has_error_clicks: Option<bool>,
    /// A visitor id, exactly.
    pub visitor: Option<String>,
    /// These sessions only.
    pub ids: Option<Vec<SessionId>>,
    /// A project's id (`default`: also the sessions from before projects).
    pub project: Option<String>,
}

fn boolean(name: &str, v: &str) -> Result<bool, String> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("`{name}` must be `true` or `false`")),
    }
}

impl Filters {
    /// Parses the filters among `params`. A name that is neither a filter
    /// nor one of `other` (the endpoint's own parameters, such as `limit`)
    /// is an error.
    pub fn parse(params: &HashMap<String, String>, other: &[&str]) -> Result<Self, String> {
        let mut unknown: Vec<&str> = params
            .keys()
            .map(String::as_str)
            .filter(|k| !NAMES.contains(k) && !other.contains(k))
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Err(format!(
                "unknown filter {}: the filters are {}",
                unknown
                    .iter()
                    .map(|k| format!("`{}`", k.chars().take(64).collect::<String>()))
                    .collect::<Vec<_>>()
                    .join(", "),
                NAMES.join(", ")
            ));
        }
        let get = |k: &str| -> Result<Option<&str>, String> {
            // `ids` lists up to MAX_IDS ids of 32 digits and a comma.
            let max = if k == "ids" { 4096 } else { MAX_VALUE_BYTES };
            match params.get(k).map(String::as_str).filter(|v| !v.is_empty()) {
                Some(v) if v.len() > max => Err(format!(
                    "`{k}` is {} bytes, over the limit of {max}",
                    v.len()
                )),
                v => Ok(v),
            }
        };
        let text = |k: &str| -> Result<Option<String>, String> { Ok(get(k)?.map(str::to_owned)) };
        let flag = |k: &str| -> Result<Option<bool>, String> {
            get(k)?.map(|v| boolean(k, v)).transpose()
        };
        let time = |k: &str| -> Result<Option<u64>, String> {
            get(k)?
                .map(|v| match parse_rfc3339_ms(v) {
                    Some(ms) if ms <= MAX_TIME_MS => Ok(ms),
                    _ => Err(format!(
                        "`{k}` must be an RFC 3339 date-time up to the year 9999"
                    )),
                })
                .transpose()
        };
        let min_duration_ms = get("min_duration_ms")?
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| "`min_duration_ms` must be a non-negative integer".to_owned())
            })
            .transpose()?;
        let device = get("device")?
            .map(|v| {
                Device::parse(v)
                    .ok_or_else(|| "`device` must be `desktop`, `tablet` or `mobile`".to_owned())
            })
            .transpose()?;
        let ids = get("ids")?
            .map(|v| {
                let ids: Vec<SessionId> = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse().map_err(|_| {
                            "`ids` must be session ids (32 hexadecimal digits) separated by commas"
                                .to_owned()
                        })
                    })
                    .collect::<Result<_, _>>()?;
                if ids.len() > MAX_IDS {
                    return Err(format!("`ids` lists more than {MAX_IDS} sessions"));
                }
                Ok(ids)
            })
            .transpose()?;
        let f = Filters {
            url: text("url")?,
            user: text("user")?,
            since_ms: time("since")?,
            until_ms: time("until")?,
            min_duration_ms,
            has_errors: flag("has_errors")?,
            device,
            browser: text("browser")?,
            os: text("os")?,
            referrer: text("referrer")?,
            utm_source: text("utm_source")?,
            visited: text("visited")?,
            event: text("event")?,
            new_visitor: flag("new_visitor")?,
            has_rage_clicks: flag("has_rage_clicks")?,
            has_dead_clicks: flag("has_dead_clicks")?,
            has_error_clicks: flag("has_error_clicks")?,
            visitor: text("visitor")?,
            ids,
            project: text("project")?,
        };
        if let (Some(s), Some(u)) = (f.since_ms, f.until_ms) {
            if s > u {
                return Err("`since` is after `until`".into());
            }
        }
        Ok(f)
    }

    /// [`Filters::parse`] for a JSON object of filters (a funnel's
    /// `filters`): strings, booleans and numbers, as the query string
    /// would carry them.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, String> {
        let obj = match v {
            serde_json::Value::Null => return Ok(Filters::default()),
            serde_json::Value::Object(o) => o,
            _ => return Err("`filters` must be an object".into()),
        };
        let mut params = HashMap::new();
        for (k, v) in obj {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Null => continue,
                _ => {
                    return Err(format!(
                        "filter `{}` must be a string, a boolean or a number",
                        k.chars().take(64).collect::<String>()
                    ))
                }
            };
            params.insert(k.clone(), s);
        }
        Self::parse(&params, &[])
    }

    /// Whether a session passes every filter.
    pub fn matches(&self, m: &SessionMeta) -> bool {
        let i = &m.insights;
        let any_url = |p: &str| m.urls.iter().any(|u| u.contains(p));
        let same = |want: &Option<String>, have: &Option<String>| match want {
            None => true,
            Some(w) => have.as_deref() == Some(w.as_str()),
        };
        let same_ci = |want: &Option<String>, have: &Option<String>| match want {
            None => true,
            Some(w) => have.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(w)),
        };
        let flag = |want: Option<bool>, count: u64| want.is_none_or(|w| w == (count > 0));
        self.url.as_deref().is_none_or(any_url)
            && self.visited.as_deref().is_none_or(any_url)
            && same(&self.user, &m.user_id)
            && self.project.as_deref().is_none_or(|p| {
                m.project
                    .as_deref()
                    .unwrap_or(crate::projects::DEFAULT_PROJECT)
                    == p
            })
            && self.since_ms.is_none_or(|s| m.started_at >= s)
            && self.until_ms.is_none_or(|u| m.started_at <= u)
            && self.min_duration_ms.is_none_or(|d| m.duration_ms() >= d)
            && flag(self.has_errors, m.error_count)
            && self
                .device
                .is_none_or(|d| i.device.as_deref() == Some(d.name()))
            && same_ci(&self.browser, &i.browser)
            && same_ci(&self.os, &i.os)
            && self
                .referrer
                .as_deref()
                .is_none_or(|r| i.referrer.as_deref().is_some_and(|have| have.contains(r)))
            && same(&self.utm_source, &i.utm_source)
            && self
                .event
                .as_deref()
                .is_none_or(|e| i.events.iter().any(|x| x == e))
            && self.new_visitor.is_none_or(|n| i.new_visitor == Some(n))
            && flag(self.has_rage_clicks, i.rage_click_count)
            && flag(self.has_dead_clicks, i.dead_click_count)
            && flag(self.has_error_clicks, i.error_click_count)
            && same(&self.visitor, &i.visitor_id)
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&m.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::SessionInsights;

    fn q(pairs: &[(&str, &str)]) -> Result<Filters, String> {
        Filters::parse(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            &["limit", "cursor"],
        )
    }

    fn meta() -> SessionMeta {
        let mut m = crate::index::merge(
            None,
            &reel_shared::ChunkHeader {
                session: SessionId([1; 16]),
                seq: 0,
                t_start: 1_000,
                t_end: 5_000,
                event_count: 1,
                stats: reel_shared::ChunkStats {
                    errors: 2,
                    urls: vec!["https://shop.example/cart".into()],
                    user_id: Some("alice".into()),
                    ..Default::default()
                },
            },
            1,
            1,
        );
        m.insights = SessionInsights {
            device: Some("mobile".into()),
            browser: Some("Chrome".into()),
            os: Some("Android".into()),
            referrer: Some("https://www.google.com/".into()),
            utm_source: Some("news".into()),
            visitor_id: Some("v9".into()),
            new_visitor: Some(false),
            rage_click_count: 1,
            events: vec!["checkout".into()],
            ..Default::default()
        };
        m
    }

    #[test]
    fn bad_filters_are_named() {
        for (bad, says) in [
            (("colour", "red"), "unknown filter `colour`"),
            (("device", "phone"), "`device` must be"),
            (("new_visitor", "yes"), "`new_visitor` must be"),
            (("has_rage_clicks", "1"), "`has_rage_clicks` must be"),
            (("has_dead_clicks", "x"), "`has_dead_clicks` must be"),
            (("has_error_clicks", "x"), "`has_error_clicks` must be"),
            (("has_errors", "yes"), "`has_errors` must be"),
            (("since", "nope"), "`since` must be"),
            (("until", "10000-01-01T00:00:00Z"), "`until` must be"),
            (("min_duration_ms", "-1"), "`min_duration_ms`"),
            (("ids", "xyz"), "`ids` must be"),
        ] {
            let e = q(&[bad]).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        let long = "a".repeat(MAX_VALUE_BYTES + 1);
        assert!(q(&[("visited", &long)])
            .unwrap_err()
            .contains("over the limit"));
        let many = vec!["00000000000000000000000000000001"; MAX_IDS + 1].join(",");
        assert!(q(&[("ids", &many)]).unwrap_err().contains("more than"));
        assert!(q(&[
            ("since", "2024-02-01T00:00:00Z"),
            ("until", "2024-01-01T00:00:00Z")
        ])
        .unwrap_err()
        .contains("after"));
        assert_eq!(
            q(&[("device", ""), ("limit", "5")]).unwrap(),
            Filters::default()
        );
    }

    #[test]
    fn every_filter_matches_and_refuses() {
        let m = meta();
        let yes_no: &[(&str, &str, &str)] = &[
            ("url", "/cart", "/checkout"),
            ("visited", "shop.example", "other.example"),
            ("user", "alice", "ali"),
            ("since", "1970-01-01T00:00:01Z", "1970-01-01T00:00:01.001Z"),
            ("until", "1970-01-01T00:00:01Z", "1970-01-01T00:00:00.999Z"),
            ("min_duration_ms", "4000", "4001"),
            ("has_errors", "true", "false"),
            ("device", "mobile", "desktop"),
            ("browser", "chrome", "Firefox"),
            ("os", "ANDROID", "iOS"),
            ("referrer", "google", "bing"),
            ("utm_source", "news", "new"),
            ("event", "checkout", "check"),
            ("new_visitor", "false", "true"),
            ("has_rage_clicks", "true", "false"),
            ("has_dead_clicks", "false", "true"),
            ("has_error_clicks", "false", "true"),
            ("visitor", "v9", "v1"),
            ("project", "default", "other"),
            (
                "ids",
                "01010101010101010101010101010101,02020202020202020202020202020202",
                "02020202020202020202020202020202",
            ),
        ];
        assert_eq!(yes_no.len(), NAMES.len(), "every filter is tested");
        for (name, yes, no) in yes_no {
            assert!(q(&[(name, yes)]).unwrap().matches(&m), "{name}={yes}");
            assert!(!q(&[(name, no)]).unwrap().matches(&m), "{name}={no}");
        }
    }

    #[test]
    fn json_filters() {
        let f = Filters::from_json(&serde_json::json!({
            "device": "mobile", "new_visitor": false, "min_duration_ms": 5, "user": null
        }))
        .unwrap();
        assert_eq!(
            (f.device, f.new_visitor, f.min_duration_ms),
            (Some(Device::Mobile), Some(false), Some(5))
        );
        assert!(Filters::from_json(&serde_json::json!([1])).is_err());
        assert!(Filters::from_json(&serde_json::json!({"device": ["a"]})).is_err());
        assert!(Filters::from_json(&serde_json::json!({"nope": "a"})).is_err());
    }
}
