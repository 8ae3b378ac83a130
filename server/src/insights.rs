//! Insights queries (contract §6): click heatmaps, scroll maps and
//! funnels, answered from the digest that ingest built (`digest.rs`,
//! `store/digest.rs`) and the session index, never from chunks.
//!
//! Every query is bounded: a time range of at most [`MAX_RANGE_MS`]
//! (30 days back from now unless `since`/`until` say otherwise), a URL
//! pattern of at most [`crate::filters::MAX_VALUE_BYTES`] matching at most
//! [`MAX_URLS`] distinct pages, at most [`MAX_FUNNEL_STEPS`] funnel steps,
//! and capped results. Written against the storage traits only, so any
//! backend serves them.

use crate::digest::{key_of, PagePart, Step, UrlKey, STEP_CLICK, STEP_EVENT, STEP_PAGE};
use crate::filters::{Filters, MAX_VALUE_BYTES};
use crate::index::SessionMeta;
use crate::store::{ListRange, Storage, StoreError};
use reel_shared::SessionId;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

const DAY_MS: u64 = 24 * 3600 * 1000;
/// The range a query covers when it names none: the last 30 days.
pub const DEFAULT_RANGE_MS: u64 = 30 * DAY_MS;
/// The longest range a query may cover.
pub const MAX_RANGE_MS: u64 = 366 * DAY_MS;
/// Distinct page URLs a pattern may match.
pub const MAX_URLS: usize = 10_000;
pub const MAX_FUNNEL_STEPS: usize = 20;
/// The longest `within_ms` of a funnel (its whole range is bounded anyway).
pub const MAX_WITHIN_MS: u64 = MAX_RANGE_MS;
/// Targets listed, and points placed, at most.
pub const MAX_TARGETS: usize = 100;
pub const MAX_POINTS: usize = 10_000;
/// Distinct targets counted per query: past it, new selectors are not
/// tracked (the answer says `truncated`).
const MAX_TRACKED_TARGETS: usize = 20_000;
/// Session ids in each list of a funnel step.
pub const MAX_IDS: usize = 100;
/// Occurrences of a funnel's first step tried as its start, per session.
const MAX_STARTS: usize = 64;

/// A bad query: answered `400` with this text.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Bad(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<String> for QueryError {
    fn from(s: String) -> Self {
        QueryError::Bad(s)
    }
}

/// Bounds a query's time range (see the module doc) and writes it into
/// its filters, so that matching checks it.
pub fn bound_range(f: &mut Filters, now_ms: u64) -> Result<(u64, u64), String> {
    let until = f
        .until_ms
        .unwrap_or(now_ms.saturating_add(crate::validate::MAX_FUTURE_MS));
    let since = f.since_ms.unwrap_or(until.saturating_sub(DEFAULT_RANGE_MS));
    if since > until {
        return Err("`since` is after `until`".into());
    }
    if until - since > MAX_RANGE_MS {
        return Err(format!(
            "the time range (`since` to `until`) is longer than {} days",
            MAX_RANGE_MS / DAY_MS
        ));
    }
    f.since_ms = Some(since);
    f.until_ms = Some(until);
    Ok((since, until))
}

/// A URL pattern: required, at most [`MAX_VALUE_BYTES`].
pub fn check_pattern(what: &str, p: Option<&str>) -> Result<String, String> {
    match p {
        None | Some("") => Err(format!("`{what}` (a substring of page URLs) is required")),
        Some(p) if p.len() > MAX_VALUE_BYTES => Err(format!(
            "`{what}` is {} bytes, over the limit of {MAX_VALUE_BYTES}",
            p.len()
        )),
        Some(p) => Ok(p.to_owned()),
    }
}

fn matching_urls(store: &dyn Storage, pattern: &str) -> Result<Vec<UrlKey>, QueryError> {
    let (urls, more) = store.digest_urls(pattern, MAX_URLS)?;
    if more {
        return Err(QueryError::Bad(format!(
            "the URL pattern matches more than {MAX_URLS} distinct pages; make it longer"
        )));
    }
    Ok(urls.into_iter().map(|(k, _)| k).collect())
}

/// Which sessions pass the filters, looked up once each.
struct Admit<'a> {
    store: &'a dyn Storage,
    filters: &'a Filters,
    seen: HashMap<SessionId, bool>,
}

impl Admit<'_> {
    fn ok(&mut self, id: &SessionId) -> Result<bool, StoreError> {
        if let Some(&ok) = self.seen.get(id) {
            return Ok(ok);
        }
        let ok = self
            .store
            .session(id)?
            .is_some_and(|m: SessionMeta| self.filters.matches(&m));
        self.seen.insert(*id, ok);
        Ok(ok)
    }
}

/// Calls `each` with every admitted session's parts of the pages matching
/// `pattern`, one URL's parts of one session at a time.
fn each_session_parts(
    store: &dyn Storage,
    pattern: &str,
    filters: &Filters,
    each: &mut dyn FnMut(&SessionId, &[PagePart]),
) -> Result<(), QueryError> {
    let urls = matching_urls(store, pattern)?;
    let mut admit = Admit {
        store,
        filters,
        seen: HashMap::new(),
    };
    for url in urls {
        // Parts come in (session, seq) order: a session's are consecutive.
        let mut run: Option<(SessionId, bool)> = None;
        let mut parts: Vec<PagePart> = Vec::new();
        let mut err = None;
        store.digest_parts(url, &mut |id, part| {
            if run.map(|(r, _)| r) != Some(*id) {
                if let Some((prev, true)) = run {
                    each(&prev, &parts);
                }
                parts.clear();
                match admit.ok(id) {
                    Ok(ok) => run = Some((*id, ok)),
                    Err(e) => {
                        err = Some(e);
                        return false;
                    }
                }
            }
            if let Some((_, true)) = run {
                parts.push(part);
            }
            true
        })?;
        if let Some(e) = err {
            return Err(e.into());
        }
        if let Some((prev, true)) = run {
            each(&prev, &parts);
        }
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    pub selector: Option<String>,
    pub label: Option<String>,
    pub clicks: u64,
    pub sessions: u64,
    pub rage_clicks: u64,
    pub dead_clicks: u64,
    pub error_clicks: u64,
}

/// The index of a selector's target, added if new (`None` past the cap).
fn target(
    targets: &mut Vec<Target>,
    by_selector: &mut HashMap<Option<String>, usize>,
    sel: &Option<String>,
    label: &Option<String>,
) -> Option<usize> {
    if let Some(&i) = by_selector.get(sel) {
        if targets[i].label.is_none() {
            targets[i].label.clone_from(label);
        }
        return Some(i);
    }
    if targets.len() >= MAX_TRACKED_TARGETS {
        return None;
    }
    targets.push(Target {
        selector: sel.clone(),
        label: label.clone(),
        clicks: 0,
        sessions: 0,
        rage_clicks: 0,
        dead_clicks: 0,
        error_clicks: 0,
    });
    by_selector.insert(sel.clone(), targets.len() - 1);
    Some(targets.len() - 1)
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    pub selector: Option<String>,
    /// Where the click fell in its target's box, 0..1 (none when the
    /// recorder had no box for it).
    pub x: Option<f64>,
    pub y: Option<f64>,
    /// Where it fell in the page's viewport, CSS pixels.
    pub page_x: i32,
    pub page_y: i32,
    pub rage: bool,
    pub dead: bool,
    pub error: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClicksAnswer {
    pub sessions: u64,
    pub targets: Vec<Target>,
    pub points: Vec<Point>,
    /// Whether a cap left clicks out of `points` or targets out of the
    /// counts.
    pub truncated: bool,
}

/// `GET /api/v1/insights/clicks`.
pub fn clicks(
    store: &dyn Storage,
    pattern: &str,
    filters: &Filters,
) -> Result<ClicksAnswer, QueryError> {
    let mut sessions: HashSet<SessionId> = HashSet::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut by_selector: HashMap<Option<String>, usize> = HashMap::new();
    let mut counted: HashSet<(usize, SessionId)> = HashSet::new();
    let mut points: Vec<Point> = Vec::new();
    let mut truncated = false;
    each_session_parts(store, pattern, filters, &mut |id, parts| {
        if parts.is_empty() {
            return;
        }
        sessions.insert(*id);
        let signals: Vec<_> = parts.iter().flat_map(|p| &p.signals).collect();
        for s in &signals {
            if let Some(i) = target(&mut targets, &mut by_selector, &s.selector, &s.label) {
                let t = &mut targets[i];
                match s.kind {
                    0 => t.rage_clicks += 1,
                    1 => t.dead_clicks += 1,
                    _ => t.error_clicks += 1,
                }
            } else {
                truncated = true;
            }
        }
        for c in parts.iter().flat_map(|p| &p.clicks) {
            match target(&mut targets, &mut by_selector, &c.selector, &c.label) {
                Some(i) => {
                    targets[i].clicks += 1;
                    if counted.insert((i, *id)) {
                        targets[i].sessions += 1;
                    }
                }
                None => truncated = true,
            }
            if points.len() >= MAX_POINTS {
                truncated = true;
                continue;
            }
            let flagged = |k: u8| {
                signals
                    .iter()
                    .any(|s| s.kind == k && s.since == c.t && s.selector == c.selector)
            };
            points.push(Point {
                selector: c.selector.clone(),
                x: c.box_x.map(|b| f64::from(b) / 1000.0),
                y: c.box_y.map(|b| f64::from(b) / 1000.0),
                page_x: c.x,
                page_y: c.y,
                rage: flagged(0),
                dead: flagged(1),
                error: flagged(2),
            });
        }
    })?;
    // Targets with a signal but no recorded click still show (a signal
    // names its click's target).
    targets.sort_by(|a, b| {
        b.clicks
            .cmp(&a.clicks)
            .then_with(|| b.sessions.cmp(&a.sessions))
            .then_with(|| a.selector.cmp(&b.selector))
    });
    if targets.len() > MAX_TARGETS {
        targets.truncate(MAX_TARGETS);
    }
    Ok(ClicksAnswer {
        sessions: sessions.len() as u64,
        targets,
        points,
        truncated,
    })
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DepthRow {
    pub percent: u32,
    pub sessions: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScrollAnswer {
    pub sessions: u64,
    pub depth: Vec<DepthRow>,
    /// Mean time on the matching pages per session that saw them, ms.
    pub avg_time_ms: u64,
}

/// `GET /api/v1/insights/scroll`: of the sessions that saw a matching
/// page, how many scrolled its bottom edge of view to at least P % of its
/// height (their deepest on any matching page; a page whose recorder
/// reported no depth counts as 0 %).
pub fn scroll(
    store: &dyn Storage,
    pattern: &str,
    filters: &Filters,
) -> Result<ScrollAnswer, QueryError> {
    let mut deepest: HashMap<SessionId, u16> = HashMap::new();
    let mut time_ms: u64 = 0;
    each_session_parts(store, pattern, filters, &mut |id, parts| {
        if parts.is_empty() {
            return;
        }
        let d = parts.iter().filter_map(|p| p.depth).max().unwrap_or(0);
        let e = deepest.entry(*id).or_insert(0);
        *e = (*e).max(d);
        time_ms += parts.iter().map(|p| p.time_ms).sum::<u64>();
    })?;
    let n = deepest.len() as u64;
    let depth = (0..=10u32)
        .map(|i| DepthRow {
            percent: i * 10,
            sessions: deepest
                .values()
                .filter(|&&d| u32::from(d) >= i * 100)
                .count() as u64,
        })
        .collect();
    Ok(ScrollAnswer {
        sessions: n,
        depth,
        avg_time_ms: time_ms.checked_div(n).unwrap_or(0),
    })
}

/// One funnel step as asked.
#[derive(Clone, Debug, PartialEq)]
pub enum StepSpec {
    Url(String),
    Event(String),
    Click(String),
}

impl StepSpec {
    /// `{"url": SUBSTR}`, `{"event": NAME}` or `{"click": LABEL}`.
    pub fn parse(i: usize, v: &serde_json::Value) -> Result<Self, String> {
        let bad = || {
            format!(
                "step {} must be one of {{\"url\": SUBSTRING}}, {{\"event\": NAME}}, {{\"click\": LABEL}}",
                i + 1
            )
        };
        let obj = v.as_object().filter(|o| o.len() == 1).ok_or_else(bad)?;
        let (k, v) = obj.iter().next().ok_or_else(bad)?;
        let s = v.as_str().filter(|s| !s.is_empty()).ok_or_else(bad)?;
        if s.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "step {}'s `{k}` is {} bytes, over the limit of {MAX_VALUE_BYTES}",
                i + 1,
                s.len()
            ));
        }
        match k.as_str() {
            "url" => Ok(StepSpec::Url(s.into())),
            "event" => Ok(StepSpec::Event(s.into())),
            "click" => Ok(StepSpec::Click(s.into())),
            _ => Err(bad()),
        }
    }
}

/// A funnel request, validated.
#[derive(Clone, Debug)]
pub struct FunnelQuery {
    pub steps: Vec<StepSpec>,
    pub filters: Filters,
    pub within_ms: Option<u64>,
}

impl FunnelQuery {
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let obj = v.as_object().ok_or("the body must be a JSON object")?;
        if let Some(k) = obj
            .keys()
            .find(|k| !["steps", "filters", "within_ms"].contains(&k.as_str()))
        {
            return Err(format!(
                "unknown field `{}`: a funnel has `steps`, `filters` and `within_ms`",
                k.chars().take(64).collect::<String>()
            ));
        }
        let steps = obj
            .get("steps")
            .and_then(|s| s.as_array())
            .ok_or("`steps` (an array of steps) is required")?;
        if steps.is_empty() {
            return Err("`steps` is empty".into());
        }
        if steps.len() > MAX_FUNNEL_STEPS {
            return Err(format!(
                "a funnel has at most {MAX_FUNNEL_STEPS} steps; this one has {}",
                steps.len()
            ));
        }
        let steps = steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepSpec::parse(i, s))
            .collect::<Result<Vec<_>, _>>()?;
        let filters = Filters::from_json(obj.get("filters").unwrap_or(&serde_json::Value::Null))?;
        let within_ms = match obj.get("within_ms") {
            None | Some(serde_json::Value::Null) => None,
            Some(w) => match w.as_u64() {
                Some(w) if (1..=MAX_WITHIN_MS).contains(&w) => Some(w),
                _ => {
                    return Err(format!(
                        "`within_ms` must be an integer from 1 to {MAX_WITHIN_MS}"
                    ))
                }
            },
        };
        Ok(FunnelQuery {
            steps,
            filters,
            within_ms,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunnelStep {
    pub sessions: u64,
    pub session_ids: Vec<String>,
    pub dropped_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunnelAnswer {
    pub steps: Vec<FunnelStep>,
}

/// A step compiled to what sessions' steps are compared with.
enum Matcher {
    Urls(HashSet<UrlKey>),
    Key(u8, u64),
}

impl Matcher {
    fn hit(&self, s: &Step) -> bool {
        match self {
            Matcher::Urls(set) => s.kind == STEP_PAGE && set.contains(&s.key),
            Matcher::Key(kind, key) => s.kind == *kind && s.key == *key,
        }
    }
}

/// How many of the funnel's steps a session did, in order (each after the
/// previous, all within `within` of the first when given): the best over
/// every occurrence of the first step as a start.
fn depth(steps: &[Step], funnel: &[Matcher], within: Option<u64>) -> usize {
    let mut best = 0;
    let starts = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| funnel[0].hit(s))
        .take(MAX_STARTS);
    for (i, first) in starts {
        let mut d = 1;
        let mut j = i + 1;
        for m in &funnel[1..] {
            let found = steps[j..]
                .iter()
                .position(|s| m.hit(s) && within.is_none_or(|w| s.t - first.t <= w));
            match found {
                Some(k) => {
                    d += 1;
                    j += k + 1;
                }
                None => break,
            }
        }
        best = best.max(d);
        if best == funnel.len() {
            break;
        }
    }
    best
}

/// `POST /api/v1/insights/funnel`: over the sessions in the range that
/// pass the filters, newest first.
pub fn funnel(store: &dyn Storage, q: &FunnelQuery) -> Result<FunnelAnswer, QueryError> {
    let matchers = q
        .steps
        .iter()
        .map(|s| {
            Ok(match s {
                StepSpec::Url(p) => Matcher::Urls(matching_urls(store, p)?.into_iter().collect()),
                StepSpec::Event(n) => Matcher::Key(STEP_EVENT, key_of(STEP_EVENT, n)),
                StepSpec::Click(l) => Matcher::Key(STEP_CLICK, key_of(STEP_CLICK, l)),
            })
        })
        .collect::<Result<Vec<_>, QueryError>>()?;
    let n = matchers.len();
    let mut out: Vec<FunnelStep> = (0..n)
        .map(|_| FunnelStep {
            sessions: 0,
            session_ids: Vec::new(),
            dropped_ids: Vec::new(),
        })
        .collect();
    let count = |id: &SessionId, steps: &[Step], out: &mut Vec<FunnelStep>| {
        let d = depth(steps, &matchers, q.within_ms);
        for (i, step) in out.iter_mut().enumerate() {
            if i < d {
                step.sessions += 1;
                if step.session_ids.len() < MAX_IDS {
                    step.session_ids.push(id.to_string());
                }
            } else if i == d && i > 0 && step.dropped_ids.len() < MAX_IDS {
                step.dropped_ids.push(id.to_string());
            }
        }
    };
    let time_only = Filters {
        since_ms: q.filters.since_ms,
        until_ms: q.filters.until_ms,
        ..Filters::default()
    } == q.filters;
    if time_only {
        // No segment: one scan of the step lists, a session's range told
        // by its first step (its landing page's load, where it starts),
        // none of the index's metadata read.
        let (since, until) = (
            q.filters.since_ms.unwrap_or(0),
            q.filters.until_ms.unwrap_or(u64::MAX),
        );
        let mut hits: Vec<(u64, SessionId, Vec<Step>)> = Vec::new();
        store.digest_all_steps(&mut |id, steps| {
            if let Some(first) = steps.first() {
                if (since..=until).contains(&first.t) {
                    hits.push((first.t, *id, steps));
                }
            }
            true
        })?;
        // Newest first, as the list and the other path give them.
        hits.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.as_bytes().cmp(a.1.as_bytes())));
        for (_, id, steps) in &hits {
            count(id, steps, &mut out);
        }
        return Ok(FunnelAnswer { steps: out });
    }
    let mut ids: Vec<SessionId> = Vec::new();
    let range = ListRange {
        since: q.filters.since_ms.unwrap_or(0),
        until: q.filters.until_ms.unwrap_or(u64::MAX),
        before: None,
        limit: 1,
    };
    // Every session in the range is looked at; none is kept in the page.
    store.list_sessions(range, &mut |m| {
        if q.filters.matches(m) {
            ids.push(m.id);
        }
        false
    })?;
    for id in ids {
        let steps = store.digest_steps(&id)?;
        count(&id, &steps, &mut out);
    }
    Ok(FunnelAnswer { steps: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(t: u64, kind: u8, key: u64) -> Step {
        Step {
            seq: 0,
            t,
            kind,
            key,
        }
    }

    #[test]
    fn funnel_depth_follows_order_and_window() {
        let a = Matcher::Key(STEP_EVENT, 1);
        let b = Matcher::Key(STEP_EVENT, 2);
        let c = Matcher::Urls([7].into_iter().collect());
        let f = [a, b, c];
        let s = [
            st(0, STEP_EVENT, 2),
            st(10, STEP_EVENT, 1),
            st(20, STEP_PAGE, 7),
        ];
        assert_eq!(depth(&s, &f, None), 1, "b before a does not count");
        let s = [
            st(0, STEP_EVENT, 1),
            st(10, STEP_EVENT, 2),
            st(5_000, STEP_PAGE, 7),
        ];
        assert_eq!(depth(&s, &f, None), 3);
        assert_eq!(depth(&s, &f, Some(1_000)), 2);
        // A later start can do better within the window.
        let s = [
            st(0, STEP_EVENT, 1),
            st(4_000, STEP_EVENT, 1),
            st(4_010, STEP_EVENT, 2),
            st(4_500, STEP_PAGE, 7),
        ];
        assert_eq!(depth(&s, &f, Some(1_000)), 3);
        assert_eq!(depth(&[], &f, None), 0);
    }

    #[test]
    fn ranges_are_bounded() {
        let now = 1_800_000_000_000;
        let mut f = Filters::default();
        let (s, u) = bound_range(&mut f, now).unwrap();
        assert_eq!(u - s, DEFAULT_RANGE_MS);
        assert_eq!((f.since_ms, f.until_ms), (Some(s), Some(u)));
        let mut f = Filters {
            since_ms: Some(0),
            ..Default::default()
        };
        assert!(bound_range(&mut f, now).unwrap_err().contains("366 days"));
        let mut f = Filters {
            since_ms: Some(now),
            until_ms: Some(now - 1),
            ..Default::default()
        };
        assert!(bound_range(&mut f, now).is_err());
    }

    #[test]
    fn funnel_bodies_are_checked() {
        let p = |v: serde_json::Value| FunnelQuery::parse(v.to_string().as_bytes());
        let step = serde_json::json!({"url": "/a"});
        assert!(p(serde_json::json!({"steps": [step]})).is_ok());
        for (bad, says) in [
            (serde_json::json!([1]), "object"),
            (serde_json::json!({}), "`steps`"),
            (serde_json::json!({"steps": []}), "empty"),
            (
                serde_json::json!({"steps": vec![step.clone(); 50]}),
                "at most 20",
            ),
            (serde_json::json!({"steps": [{"url": ""}]}), "step 1"),
            (serde_json::json!({"steps": [{"page": "/"}]}), "step 1"),
            (
                serde_json::json!({"steps": [{"url": "/", "event": "x"}]}),
                "step 1",
            ),
            (serde_json::json!({"steps": [{"url": 5}]}), "step 1"),
            (
                serde_json::json!({"steps": [{"url": "x".repeat(10_240)}]}),
                "over the limit",
            ),
            (
                serde_json::json!({"steps": [step], "within_ms": 0}),
                "`within_ms`",
            ),
            (
                serde_json::json!({"steps": [step], "within_ms": -5}),
                "`within_ms`",
            ),
            (
                serde_json::json!({"steps": [step], "filters": {"nope": 1}}),
                "unknown filter",
            ),
            (
                serde_json::json!({"steps": [step], "filters": {"device": "tv"}}),
                "`device`",
            ),
            (
                serde_json::json!({"steps": [step], "extra": 1}),
                "unknown field",
            ),
        ] {
            let e = p(bad.clone()).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(FunnelQuery::parse(b"{nope")
            .unwrap_err()
            .contains("not JSON"));
    }
}
