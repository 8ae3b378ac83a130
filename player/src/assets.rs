//! Content-addressed assets (`reel_shared::asset`) put back into the
//! events before they are replayed: the recorder sent a reference where a
//! large stylesheet text or `data:` URL was; the content is fetched once
//! per player page (`GET /api/v1/sessions/{id}/assets/{hash}`, authorised
//! like the chunks, share links included) and kept for later chunks.

use reel_shared::asset;
use reel_shared::chunk::{decompress_body, Limits};
use reel_shared::Chunk;
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    /// Assets fetched so far, by hash (`None`: could not be had).
    static CACHE: RefCell<HashMap<String, Option<String>>> = RefCell::default();
}

/// The hashes `chunks` refer to that are not fetched yet.
pub fn wanted(chunks: &mut [Chunk]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    CACHE.with(|c| {
        let c = c.borrow();
        for e in chunks.iter_mut().flat_map(|c| c.events.iter_mut()) {
            asset::each_slot(&mut e.data, &mut |s: &mut String| {
                if let Some(h) = asset::parse_ref(s) {
                    if !c.contains_key(h) && !out.iter().any(|o| o == h) {
                        out.push(h.to_string());
                    }
                }
            });
        }
    });
    out
}

/// Keeps a fetched asset (one zstd frame), or notes that it is missing.
/// The content must hash to `hash` (the server checked it at upload; a
/// mismatch here means a damaged copy, shown as missing).
pub fn keep(hash: &str, frame: Option<&[u8]>) -> Result<(), String> {
    let text = match frame {
        None => None,
        Some(f) => {
            let limits = Limits {
                max_decompressed: asset::MAX_BYTES,
                ..Limits::default()
            };
            let raw = decompress_body(f, &limits).map_err(|e| format!("asset {hash}: {e}"));
            match raw.and_then(|r| String::from_utf8(r).map_err(|e| format!("asset {hash}: {e}"))) {
                Ok(t) => Some(t),
                Err(e) => {
                    CACHE.with(|c| c.borrow_mut().insert(hash.to_string(), None));
                    return Err(e);
                }
            }
        }
    };
    CACHE.with(|c| c.borrow_mut().insert(hash.to_string(), text));
    Ok(())
}

/// Replaces every reference in `chunks` by its content (an asset that
/// could not be had becomes empty: an unstyled replay, never the
/// reference's text).
pub fn resolve(chunks: &mut [Chunk]) {
    CACHE.with(|c| {
        let c = c.borrow();
        for e in chunks.iter_mut().flat_map(|c| c.events.iter_mut()) {
            asset::each_slot(&mut e.data, &mut |s: &mut String| {
                if let Some(h) = asset::parse_ref(s) {
                    *s = c.get(h).cloned().flatten().unwrap_or_default();
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_shared::{ChunkHeader, Event, EventData, SheetOp, SheetRef, StyleSheetChange};

    fn chunk(text: &str) -> Chunk {
        Chunk {
            header: ChunkHeader {
                session: "0123456789abcdef0123456789abcdef".parse().unwrap(),
                seq: 0,
                t_start: 1,
                t_end: 1,
                event_count: 1,
                stats: Default::default(),
            },
            events: vec![Event {
                t: 1,
                data: EventData::StyleSheet(StyleSheetChange {
                    sheet: SheetRef::Constructed(1),
                    op: SheetOp::Replace { text: text.into() },
                }),
            }],
        }
    }

    fn text(c: &Chunk) -> &str {
        match &c.events[0].data {
            EventData::StyleSheet(StyleSheetChange {
                op: SheetOp::Replace { text },
                ..
            }) => text,
            _ => "",
        }
    }

    #[test]
    fn references_are_fetched_once_and_put_back() {
        let css = "a { color: red }".repeat(400);
        let h = asset::hex(&[7; 32]);
        let gone = asset::hex(&[8; 32]);
        let mut cs = vec![
            chunk(&asset::reference(&h)),
            chunk(&asset::reference(&gone)),
            chunk("b{}"),
        ];
        assert_eq!(wanted(&mut cs), vec![h.clone(), gone.clone()]);
        keep(&h, Some(&reel_shared::zstd::compress(css.as_bytes()))).unwrap();
        keep(&gone, None).unwrap();
        assert!(wanted(&mut cs).is_empty());
        resolve(&mut cs);
        assert_eq!(text(&cs[0]), css);
        assert_eq!(text(&cs[1]), "");
        assert_eq!(text(&cs[2]), "b{}");
    }
}
