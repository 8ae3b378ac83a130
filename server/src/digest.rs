//! The per-session digest (issue 16, contract §6): what insights need
//! from a session, read out of each chunk once, at ingest, so that no
//! query ever decodes a chunk.
//!
//! Three steps, each with one home:
//!
//! 1. [`ChunkFacts`]: the events of one chunk that insights use (page
//!    loads, clicks, scroll depths, frustration signals, custom events),
//!    in order. Ingest collects them in the same walk that validates the
//!    chunk (`validate.rs`: only these kinds are read further, the rest is
//!    skipped as before); a backend re-reading its log after a crash, or
//!    an import, builds them from the decoded events
//!    ([`ChunkFacts::from_events`]), and a test checks that both agree.
//! 2. [`apply`]: folds a chunk's facts into its session's metadata (the
//!    [`SessionInsights`] in [`SessionMeta`]: device, source, counts) and
//!    returns the digest records the chunk adds ([`DigestUpdate`]). The
//!    caller is the backend's atomic step that stores the chunk and merges
//!    its header (so a duplicate, which that step detects, is never
//!    applied), and it applies chunks in the order it indexes them.
//! 3. The records, stored by `store::digest`: a distinct-URL table, page
//!    parts keyed by (URL, session, seq, part) so that a heatmap of one URL
//!    reads only the sessions that saw it, and each session's compact step
//!    sequence for funnels. Every record is keyed by the chunk's seq, so
//!    writing a chunk's records twice (a crash between the digest's write
//!    and the index checkpoint, then the log re-read) changes nothing.

use crate::index::{truncate, SessionMeta, MAX_FIELD_LEN, MAX_URL_LEN};
use reel_shared::{Event, EventData, MouseKind, SessionId, SignalKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A session keeps at most this many funnel steps (page loads, custom
/// events, labelled clicks): a funnel is about a path, and a session that
/// clicks for hours must not grow a record without end.
pub const MAX_STEPS: usize = 2_000;
/// Distinct custom event names kept per session (for the `event` filter).
pub const MAX_EVENT_NAMES: usize = 64;
/// Clicks and signals kept per page part (one chunk's stretch of a page).
pub const MAX_CLICKS_PER_PART: usize = 500;

/// A page URL's key in the digest: the first 8 bytes of its SHA-256
/// (stable across versions and backends, unlike `std`'s hasher).
pub type UrlKey = u64;

/// The key of a string (URL, custom event name, click label), kind-tagged
/// so that a label never equals an event name's key.
pub fn key_of(kind: u8, s: &str) -> u64 {
    let mut h = Sha256::new();
    h.update([kind]);
    h.update(s.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

pub fn url_key(url: &str) -> UrlKey {
    key_of(STEP_PAGE, url)
}

/// One event insights use, without its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    /// A page load (`Meta`).
    Page {
        href: String,
        user_agent: String,
        referrer: Option<String>,
        visitor_id: Option<String>,
        new_visitor: Option<bool>,
    },
    /// A click (`Mouse` of kind `Click`).
    Click {
        x: i32,
        y: i32,
        box_x: Option<u16>,
        box_y: Option<u16>,
        label: Option<String>,
        selector: Option<String>,
    },
    /// How far down the top document is in view, in thousandths.
    Scroll {
        depth: u16,
    },
    Signal {
        kind: SignalKind,
        since: u64,
        label: Option<String>,
        selector: Option<String>,
    },
    Custom {
        name: String,
    },
}

/// The facts of one chunk, in event order, each with its time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChunkFacts {
    pub items: Vec<(u64, Fact)>,
}

impl ChunkFacts {
    /// From decoded events: what a log re-read and an import use.
    pub fn from_events(events: &[Event]) -> Self {
        let mut f = ChunkFacts::default();
        for e in events {
            let fact = match &e.data {
                EventData::Meta(m) => Fact::Page {
                    href: m.href.clone(),
                    user_agent: m.user_agent.clone(),
                    referrer: m.referrer.clone(),
                    visitor_id: m.visitor_id.clone(),
                    new_visitor: m.new_visitor,
                },
                EventData::Mouse(m) if m.kind == MouseKind::Click => Fact::Click {
                    x: m.x,
                    y: m.y,
                    box_x: m.box_x,
                    box_y: m.box_y,
                    label: m.label.clone(),
                    selector: m.selector.clone(),
                },
                EventData::Scroll(s) => match s.depth {
                    Some(depth) => Fact::Scroll { depth },
                    None => continue,
                },
                EventData::Signal(s) => Fact::Signal {
                    kind: s.kind,
                    since: s.since,
                    label: s.label.clone(),
                    selector: s.selector.clone(),
                },
                EventData::Custom(c) => Fact::Custom {
                    name: c.name.clone(),
                },
                _ => continue,
            };
            f.items.push((e.t, fact));
        }
        f
    }

    /// From a stored chunk, decoding it whole: for the rare paths that
    /// have only the bytes (a log re-read after a crash, an import). A
    /// chunk that does not decode has no facts.
    pub fn from_chunk(raw: &[u8]) -> Self {
        // Above any limit ingest can be given: the chunk was accepted.
        let limits = reel_shared::Limits {
            max_header: 1 << 20,
            max_decompressed: 1 << 30,
            max_events: 1 << 24,
        };
        match reel_shared::decode_chunk(raw, &limits) {
            Ok(c) => Self::from_events(&c.events),
            Err(e) => {
                tracing::warn!(
                    "a stored chunk does not decode, so it adds nothing to insights: {e}"
                );
                ChunkFacts::default()
            }
        }
    }
}

/// `desktop`, `tablet` or `mobile`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Desktop,
    Tablet,
    Mobile,
}

impl Device {
    pub fn name(self) -> &'static str {
        match self {
            Device::Desktop => "desktop",
            Device::Tablet => "tablet",
            Device::Mobile => "mobile",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "desktop" => Some(Device::Desktop),
            "tablet" => Some(Device::Tablet),
            "mobile" => Some(Device::Mobile),
            _ => None,
        }
    }
}

/// What a user agent says: device class, browser and OS names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub device: Device,
    pub browser: String,
    pub os: String,
}

/// Parses a user agent with `woothee`: a maintained, dependency-light
/// classifier shared with other languages (its rules are one YAML data set
/// tested across implementations), rather than a parser of our own that
/// would age with every new browser. woothee has no tablet class (an iPad
/// or an Android tablet is a "smartphone" to it), so a tablet is told
/// where the UA says so: `iPad`, `Tablet`, or Android without `Mobile`
/// (Google's rule for Android tablets). A crawler, an appliance or an
/// unknown UA counts as a desktop.
pub fn parse_user_agent(ua: &str) -> Client {
    let parsed = woothee::parser::Parser::new().parse(ua);
    let (category, browser, os) = match &parsed {
        Some(r) => (r.category, r.name, r.os),
        None => ("UNKNOWN", "UNKNOWN", "UNKNOWN"),
    };
    let tablet = ua.contains("iPad")
        || ua.contains("Tablet")
        || (ua.contains("Android") && !ua.contains("Mobile"));
    let device = if tablet {
        Device::Tablet
    } else if matches!(category, "smartphone" | "mobilephone") {
        Device::Mobile
    } else {
        Device::Desktop
    };
    let known = |s: &str| {
        if s == "UNKNOWN" || s.is_empty() {
            "Other".to_owned()
        } else {
            s.to_owned()
        }
    };
    Client {
        device,
        browser: known(browser),
        os: known(os),
    }
}

/// The `utm_source`, `utm_medium` and `utm_campaign` of a URL's query.
pub fn utm_of(url: &str) -> [Option<String>; 3] {
    let mut out: [Option<String>; 3] = [None, None, None];
    let url = url.split('#').next().unwrap_or("");
    let Some((_, query)) = url.split_once('?') else {
        return out;
    };
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let i = match &*k {
            "utm_source" => 0,
            "utm_medium" => 1,
            "utm_campaign" => 2,
            _ => continue,
        };
        if out[i].is_none() && !v.is_empty() {
            out[i] = Some(truncate(&v, MAX_FIELD_LEN));
        }
    }
    out
}

/// The page a session was last on, and up to when its time is counted:
/// where the next chunk's first events belong.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentPage {
    pub url: UrlKey,
    pub last_t: u64,
}

/// What insights add to a session's metadata ([`SessionMeta::insights`]),
/// kept with it in the same atomic step as each chunk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInsights {
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub browser: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    /// The landing page's referrer, and the UTM parameters of its URL.
    #[serde(default)]
    pub referrer: Option<String>,
    #[serde(default)]
    pub utm_source: Option<String>,
    #[serde(default)]
    pub utm_medium: Option<String>,
    #[serde(default)]
    pub utm_campaign: Option<String>,
    #[serde(default)]
    pub visitor_id: Option<String>,
    #[serde(default)]
    pub new_visitor: Option<bool>,
    /// Page loads.
    #[serde(default)]
    pub page_count: u64,
    #[serde(default)]
    pub rage_click_count: u64,
    #[serde(default)]
    pub dead_click_count: u64,
    #[serde(default)]
    pub error_click_count: u64,
    #[serde(default)]
    pub thrashed_cursor_count: u64,
    #[serde(default)]
    pub u_turn_count: u64,
    /// Distinct custom event names (at most [`MAX_EVENT_NAMES`]).
    #[serde(default)]
    pub events: Vec<String>,
    /// Whether the landing page was seen (the fields above that come from
    /// it are set then, once).
    #[serde(default)]
    pub landed: bool,
    #[serde(default)]
    pub current: Option<CurrentPage>,
}

/// The insights fields of a session item (contract §6), flattened into
/// [`crate::index::SessionItem`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InsightsItem {
    pub device: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub referrer: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub visitor_id: Option<String>,
    pub new_visitor: Option<bool>,
    pub page_count: u64,
    pub rage_click_count: u64,
    pub dead_click_count: u64,
    pub error_click_count: u64,
    pub thrashed_cursor_count: u64,
    pub u_turn_count: u64,
}

impl From<&SessionInsights> for InsightsItem {
    fn from(i: &SessionInsights) -> Self {
        InsightsItem {
            device: i.device.clone(),
            browser: i.browser.clone(),
            os: i.os.clone(),
            referrer: i.referrer.clone(),
            utm_source: i.utm_source.clone(),
            utm_medium: i.utm_medium.clone(),
            utm_campaign: i.utm_campaign.clone(),
            visitor_id: i.visitor_id.clone(),
            new_visitor: i.new_visitor,
            page_count: i.page_count,
            rage_click_count: i.rage_click_count,
            dead_click_count: i.dead_click_count,
            error_click_count: i.error_click_count,
            thrashed_cursor_count: i.thrashed_cursor_count,
            u_turn_count: i.u_turn_count,
        }
    }
}

/// Funnel step kinds, as stored.
pub const STEP_PAGE: u8 = 1;
pub const STEP_EVENT: u8 = 2;
pub const STEP_CLICK: u8 = 3;

/// One step of a session's path: a page load, a custom event or a click
/// on a labelled target, by the key of its URL, name or label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub seq: u32,
    pub t: u64,
    pub kind: u8,
    pub key: u64,
}

/// A click as a heatmap needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Click {
    pub t: u64,
    /// Page (viewport) coordinates.
    pub x: i32,
    pub y: i32,
    /// Position in the target's box, thousandths.
    pub box_x: Option<u16>,
    pub box_y: Option<u16>,
    pub label: Option<String>,
    pub selector: Option<String>,
}

/// A rage, dead or error click signal on a page (the others are counted
/// on the session alone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageSignal {
    /// 0 rage, 1 dead, 2 error.
    pub kind: u8,
    /// When the click (the burst's first) happened.
    pub since: u64,
    pub label: Option<String>,
    pub selector: Option<String>,
}

/// One chunk's stretch of one page visit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagePart {
    /// Whether the visit began in this part (its page load).
    pub visit: bool,
    /// The time of the page's load, or where this part picks it up.
    pub t: u64,
    /// Time on the page within this part, ms.
    pub time_ms: u64,
    /// The deepest scroll seen in this part, thousandths.
    pub depth: Option<u16>,
    pub clicks: Vec<Click>,
    pub signals: Vec<PageSignal>,
}

/// The records one chunk adds (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestUpdate {
    /// Distinct-URL table entries.
    pub urls: Vec<(UrlKey, String)>,
    /// Page parts: (URL, part index within the chunk, part).
    pub parts: Vec<(UrlKey, u16, PagePart)>,
    /// This chunk's steps (to replace any of the same seq).
    pub steps: Vec<Step>,
}

/// Where a page part is stored: URL key, session, seq, part index, all
/// big-endian, so that a URL's parts are one key range.
pub fn part_key(url: UrlKey, id: &SessionId, seq: u32, idx: u16) -> [u8; 30] {
    let mut k = [0u8; 30];
    k[..8].copy_from_slice(&url.to_be_bytes());
    k[8..24].copy_from_slice(id.as_bytes());
    k[24..28].copy_from_slice(&seq.to_be_bytes());
    k[28..].copy_from_slice(&idx.to_be_bytes());
    k
}

/// Folds chunk `seq`'s facts (its events end at `t_end`) into its
/// session's metadata, and returns the digest records it adds. Called by
/// the backend's atomic step, once per stored chunk (see the module doc).
pub fn apply(meta: &mut SessionMeta, seq: u32, t_end: u64, facts: &ChunkFacts) -> DigestUpdate {
    let ins = &mut meta.insights;
    let mut up = DigestUpdate::default();
    // The part being filled: its URL and how far its time is counted.
    let mut cur: Option<(UrlKey, PagePart, u64)> = ins.current.take().map(|c| {
        (
            c.url,
            PagePart {
                t: c.last_t,
                ..PagePart::default()
            },
            c.last_t,
        )
    });
    let close = |cur: Option<(UrlKey, PagePart, u64)>, end: u64, up: &mut DigestUpdate| {
        if let Some((url, mut part, last)) = cur {
            part.time_ms += end.saturating_sub(last);
            let empty = !part.visit
                && part.time_ms == 0
                && part.clicks.is_empty()
                && part.signals.is_empty()
                && part.depth.is_none();
            if !empty {
                let idx = u16::try_from(up.parts.len()).unwrap_or(u16::MAX);
                up.parts.push((url, idx, part));
            }
        }
    };
    let step = |up: &mut DigestUpdate, t: u64, kind: u8, key: u64| {
        up.steps.push(Step { seq, t, kind, key });
    };
    for (t, fact) in &facts.items {
        let t = *t;
        match fact {
            Fact::Page {
                href,
                user_agent,
                referrer,
                visitor_id,
                new_visitor,
            } => {
                close(cur.take(), t, &mut up);
                let url = truncate(href, MAX_URL_LEN);
                let key = url_key(&url);
                if !ins.landed {
                    ins.landed = true;
                    let [s, m, c] = utm_of(&url);
                    (ins.utm_source, ins.utm_medium, ins.utm_campaign) = (s, m, c);
                    ins.referrer = referrer
                        .as_deref()
                        .filter(|r| !r.is_empty())
                        .map(|r| truncate(r, MAX_URL_LEN));
                }
                if ins.device.is_none() && !user_agent.is_empty() {
                    let c = parse_user_agent(user_agent);
                    ins.device = Some(c.device.name().to_owned());
                    ins.browser = Some(c.browser);
                    ins.os = Some(c.os);
                }
                if ins.visitor_id.is_none() {
                    if let Some(v) = visitor_id.as_deref().filter(|v| !v.is_empty()) {
                        ins.visitor_id = Some(truncate(v, MAX_FIELD_LEN));
                        ins.new_visitor = *new_visitor;
                    }
                }
                ins.page_count += 1;
                if !up.urls.iter().any(|(k, _)| *k == key) {
                    up.urls.push((key, url));
                }
                step(&mut up, t, STEP_PAGE, key);
                cur = Some((
                    key,
                    PagePart {
                        visit: true,
                        t,
                        ..PagePart::default()
                    },
                    t,
                ));
            }
            Fact::Click {
                x,
                y,
                box_x,
                box_y,
                label,
                selector,
            } => {
                if let Some(l) = label.as_deref().filter(|l| !l.is_empty()) {
                    step(&mut up, t, STEP_CLICK, key_of(STEP_CLICK, l));
                }
                if let Some((_, part, _)) = cur.as_mut() {
                    if part.clicks.len() < MAX_CLICKS_PER_PART {
                        part.clicks.push(Click {
                            t,
                            x: *x,
                            y: *y,
                            box_x: box_x.map(|b| b.min(1000)),
                            box_y: box_y.map(|b| b.min(1000)),
                            label: label.clone(),
                            selector: selector.clone(),
                        });
                    }
                }
            }
            Fact::Scroll { depth } => {
                if let Some((_, part, _)) = cur.as_mut() {
                    let d = (*depth).min(1000);
                    part.depth = Some(part.depth.map_or(d, |p| p.max(d)));
                }
            }
            Fact::Signal {
                kind,
                since,
                label,
                selector,
            } => {
                let page_kind = match kind {
                    SignalKind::RageClick => {
                        ins.rage_click_count += 1;
                        Some(0)
                    }
                    SignalKind::DeadClick => {
                        ins.dead_click_count += 1;
                        Some(1)
                    }
                    SignalKind::ErrorClick => {
                        ins.error_click_count += 1;
                        Some(2)
                    }
                    SignalKind::ThrashedCursor => {
                        ins.thrashed_cursor_count += 1;
                        None
                    }
                    SignalKind::UTurn => {
                        ins.u_turn_count += 1;
                        None
                    }
                };
                if let (Some(kind), Some((_, part, _))) = (page_kind, cur.as_mut()) {
                    if part.signals.len() < MAX_CLICKS_PER_PART {
                        part.signals.push(PageSignal {
                            kind,
                            since: *since,
                            label: label.clone(),
                            selector: selector.clone(),
                        });
                    }
                }
            }
            Fact::Custom { name } => {
                let name = truncate(name, MAX_FIELD_LEN);
                step(&mut up, t, STEP_EVENT, key_of(STEP_EVENT, &name));
                if ins.events.len() < MAX_EVENT_NAMES && !ins.events.contains(&name) {
                    ins.events.push(name);
                }
            }
        }
    }
    if let Some((url, _, last)) = &cur {
        let end = t_end.max(*last);
        ins.current = Some(CurrentPage {
            url: *url,
            last_t: end,
        });
        close(cur, end, &mut up);
    }
    up
}

/// Merges a chunk's steps into a session's sequence: any of the same seq
/// are replaced (so a re-applied chunk changes nothing), the result is in
/// time order (seq order among equal times), at most [`MAX_STEPS`].
pub fn merge_steps(steps: &mut Vec<Step>, seq: u32, new: &[Step]) {
    steps.retain(|s| s.seq != seq);
    steps.extend_from_slice(new);
    steps.sort_by_key(|s| (s.t, s.seq));
    steps.truncate(MAX_STEPS);
}

/// A session's steps as stored (MessagePack: positional and compact, read
/// back per session by a funnel).
pub fn encode_steps(s: &[Step]) -> Vec<u8> {
    rmp_serde::to_vec(s).unwrap_or_default()
}

pub fn decode_steps(b: &[u8]) -> Option<Vec<Step>> {
    rmp_serde::from_slice(b).ok()
}

pub fn encode_part(p: &PagePart) -> Vec<u8> {
    rmp_serde::to_vec(p).unwrap_or_default()
}

pub fn decode_part(b: &[u8]) -> Option<PagePart> {
    rmp_serde::from_slice(b).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
    const IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
    const ANDROID_PHONE: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
    const ANDROID_TABLET: &str = "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const FIREFOX_WIN: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";

    #[test]
    fn user_agents_classify() {
        let c = |ua| {
            let c = parse_user_agent(ua);
            (c.device.name(), c.browser, c.os)
        };
        assert_eq!(
            c(CHROME_MAC),
            ("desktop", "Chrome".into(), "Mac OSX".into())
        );
        assert_eq!(
            c(FIREFOX_WIN),
            ("desktop", "Firefox".into(), "Windows 10".into())
        );
        assert_eq!(c(IPHONE), ("mobile", "Safari".into(), "iPhone".into()));
        assert_eq!(c(IPAD), ("tablet", "Safari".into(), "iPad".into()));
        assert_eq!(
            c(ANDROID_PHONE),
            ("mobile", "Chrome".into(), "Android".into())
        );
        assert_eq!(
            c(ANDROID_TABLET),
            ("tablet", "Chrome".into(), "Android".into())
        );
        assert_eq!(
            c("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"),
            ("desktop", "Firefox".into(), "Linux".into())
        );
        assert_eq!(
            c("Googlebot/2.1"),
            ("desktop", "misc crawler".into(), "Other".into())
        );
        assert_eq!(c(""), ("desktop", "Other".into(), "Other".into()));
    }

    #[test]
    fn utm_parameters_come_from_the_query() {
        assert_eq!(
            utm_of("https://a.example/p?x=1&utm_source=news%20letter&utm_medium=email&utm_campaign=spring#f"),
            [
                Some("news letter".into()),
                Some("email".into()),
                Some("spring".into())
            ]
        );
        assert_eq!(utm_of("https://a.example/p"), [None, None, None]);
        assert_eq!(
            utm_of("https://a.example/?utm_source=&utm_source=b"),
            [Some("b".into()), None, None]
        );
        assert_eq!(utm_of("https://a/#x?utm_source=no")[0], None);
    }

    fn meta() -> SessionMeta {
        crate::index::merge(
            None,
            &reel_shared::ChunkHeader {
                session: SessionId([1; 16]),
                seq: 0,
                t_start: 1_000,
                t_end: 1_000,
                event_count: 1,
                stats: Default::default(),
            },
            1,
            1,
        )
    }

    fn page(href: &str) -> Fact {
        Fact::Page {
            href: href.into(),
            user_agent: IPHONE.into(),
            referrer: Some("https://search.example/?q=x".into()),
            visitor_id: Some("v1".into()),
            new_visitor: Some(true),
        }
    }

    fn click(label: &str, sel: &str) -> Fact {
        Fact::Click {
            x: 10,
            y: 20,
            box_x: Some(250),
            box_y: Some(1500),
            label: Some(label.into()),
            selector: Some(sel.into()),
        }
    }

    #[test]
    fn apply_counts_and_attributes_across_chunks() {
        let mut m = meta();
        let a = ChunkFacts {
            items: vec![
                (
                    1_000,
                    page("https://shop.example/?utm_source=ads&utm_campaign=c1"),
                ),
                (1_100, Fact::Scroll { depth: 400 }),
                (1_200, click("Buy", "#buy")),
                (
                    1_300,
                    Fact::Custom {
                        name: "added".into(),
                    },
                ),
            ],
        };
        let up = apply(&mut m, 0, 1_500, &a);
        let home = url_key("https://shop.example/?utm_source=ads&utm_campaign=c1");
        assert_eq!(up.urls.len(), 1);
        assert_eq!(up.parts.len(), 1);
        let (k, idx, p) = &up.parts[0];
        assert_eq!(
            (*k, *idx, p.visit, p.time_ms, p.depth),
            (home, 0, true, 500, Some(400))
        );
        assert_eq!(p.clicks[0].box_y, Some(1000), "capped");
        assert_eq!(
            up.steps.iter().map(|s| s.kind).collect::<Vec<_>>(),
            [STEP_PAGE, STEP_CLICK, STEP_EVENT]
        );
        let i = &m.insights;
        assert_eq!(i.device.as_deref(), Some("mobile"));
        assert_eq!(i.utm_source.as_deref(), Some("ads"));
        assert_eq!(i.utm_medium, None);
        assert_eq!(i.utm_campaign.as_deref(), Some("c1"));
        assert_eq!(i.referrer.as_deref(), Some("https://search.example/?q=x"));
        assert_eq!(
            (i.visitor_id.as_deref(), i.new_visitor),
            (Some("v1"), Some(true))
        );
        assert_eq!(i.events, ["added"]);
        // The next chunk starts on the same page, then loads another.
        let b = ChunkFacts {
            items: vec![
                (1_600, click("Buy", "#buy")),
                (
                    1_700,
                    Fact::Signal {
                        kind: SignalKind::RageClick,
                        since: 1_600,
                        label: Some("Buy".into()),
                        selector: Some("#buy".into()),
                    },
                ),
                (2_000, page("https://shop.example/cart?utm_source=other")),
                (
                    2_100,
                    Fact::Signal {
                        kind: SignalKind::UTurn,
                        since: 2_000,
                        label: None,
                        selector: None,
                    },
                ),
            ],
        };
        let up = apply(&mut m, 1, 2_500, &b);
        assert_eq!(up.parts.len(), 2);
        let (k0, _, p0) = &up.parts[0];
        assert_eq!(
            (*k0, p0.visit, p0.time_ms, p0.clicks.len(), p0.signals.len()),
            (home, false, 500, 1, 1)
        );
        let (k1, i1, p1) = &up.parts[1];
        assert_eq!(
            (*k1, *i1, p1.visit, p1.time_ms),
            (
                url_key("https://shop.example/cart?utm_source=other"),
                1,
                true,
                500
            )
        );
        let i = &m.insights;
        assert_eq!(i.utm_source.as_deref(), Some("ads"), "the landing page's");
        assert_eq!(
            (i.page_count, i.rage_click_count, i.u_turn_count),
            (2, 1, 1)
        );
        // Re-applying the same steps changes nothing.
        let mut steps = Vec::new();
        merge_steps(&mut steps, 1, &up.steps);
        let once = steps.clone();
        merge_steps(&mut steps, 1, &up.steps);
        assert_eq!(steps, once);
    }

    /// Ingest's walk (`validate::check_chunk_facts`) reads the same facts
    /// as a full decode, for every kind and shape it reads.
    #[test]
    fn the_validation_walk_reads_the_same_facts_as_a_decode() {
        use reel_shared::*;
        let t0 = crate::store::now_ms() - 10_000;
        let mut ev = crate::validate::tests::rich_events(t0);
        let mouse = |t: u64, kind: MouseKind, x: i32, y: i32, with: bool| Event {
            t,
            data: EventData::Mouse(MouseInteraction {
                kind,
                id: 3,
                x,
                y,
                label: with.then(|| "Ünïcode label".to_owned()),
                selector: with.then(|| "#b".to_owned()),
                box_x: with.then_some(999),
                box_y: None,
            }),
        };
        let t = ev.last().map_or(t0, |e| e.t);
        ev.extend([
            Event {
                t,
                data: EventData::Meta(Meta {
                    href: "https://x.example/?utm_source=a".into(),
                    title: "t".into(),
                    width: 1,
                    height: 2,
                    user_agent: IPAD.into(),
                    referrer: Some("https://r.example/".into()),
                    visitor_id: Some("vid".into()),
                    new_visitor: Some(false),
                }),
            },
            mouse(t, MouseKind::Click, -5, -70_000, true),
            mouse(t, MouseKind::Click, 70_000, 3, false),
            mouse(t, MouseKind::Down, 1, 1, true),
            Event {
                t,
                data: EventData::Scroll(Scroll {
                    id: 1,
                    x: -1,
                    y: 5,
                    depth: Some(1000),
                }),
            },
            Event {
                t,
                data: EventData::Scroll(Scroll {
                    id: 9,
                    x: 0,
                    y: 5,
                    depth: None,
                }),
            },
            Event {
                t,
                data: EventData::Signal(Signal {
                    kind: SignalKind::ThrashedCursor,
                    since: t - 5,
                    id: 0,
                    x: -3,
                    y: 4,
                    count: 7,
                    label: None,
                    selector: Some("#s".into()),
                }),
            },
            Event {
                t,
                data: EventData::Custom(Custom {
                    name: "ordered".into(),
                    data: Some("{}".into()),
                }),
            },
        ]);
        let id = SessionId([1; 16]);
        let c = encode_chunk(id, 0, &ev).unwrap();
        let limits = crate::validate::IngestLimits::default();
        let (_, walked) =
            crate::validate::check_chunk_facts(&c, &id, 0, &limits, t0 + 20_000).unwrap();
        let decoded = ChunkFacts::from_events(&ev);
        assert!(decoded.items.len() >= 8, "{decoded:?}");
        assert_eq!(walked, decoded);
        assert_eq!(ChunkFacts::from_chunk(&c), decoded);
    }

    #[test]
    fn facts_from_events() {
        use reel_shared::*;
        let ev = vec![
            Event {
                t: 5,
                data: EventData::Mouse(MouseInteraction {
                    kind: MouseKind::Down,
                    id: 1,
                    x: 0,
                    y: 0,
                    label: None,
                    selector: None,
                    box_x: None,
                    box_y: None,
                }),
            },
            Event {
                t: 6,
                data: EventData::Scroll(Scroll {
                    id: 1,
                    x: 0,
                    y: 0,
                    depth: None,
                }),
            },
            Event {
                t: 7,
                data: EventData::Custom(Custom {
                    name: "n".into(),
                    data: None,
                }),
            },
        ];
        assert_eq!(
            ChunkFacts::from_events(&ev).items,
            [(7, Fact::Custom { name: "n".into() })]
        );
    }
}
