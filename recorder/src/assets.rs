//! Large assets out of the events: after masking, each stylesheet text or
//! `data:` URL of at least [`asset::MIN_BYTES`] is replaced by a reference
//! to its SHA-256 and queued, compressed, for the capture layer to upload
//! (only when the server lacks it: `POST .../assets`). See
//! [`reel_shared::asset`]. Running after [`crate::convert`] is what keeps
//! masked text out: a masked text is the mask, a few bytes.

use reel_shared::asset;
use reel_shared::Event;
use std::collections::VecDeque;

/// One asset waiting to be offered to the server.
pub struct Pending {
    pub hash: String,
    /// The content, compressed as one zstd frame.
    pub body: Vec<u8>,
}

#[derive(Default)]
pub struct Assets {
    /// Hashes this recorder has already queued (an asset is uploaded once
    /// per page, however often it appears). A page has few: a list, not a
    /// hash set (whose hasher would cost the wasm ~2 KB).
    known: Vec<String>,
    pub queue: VecDeque<Pending>,
}

impl Assets {
    /// Replaces the large strings of `events` by references.
    pub fn extract(&mut self, events: &mut [Event]) {
        for e in events {
            asset::each_slot(&mut e.data, &mut |s: &mut String| {
                if s.len() < asset::MIN_BYTES || s.len() > asset::MAX_BYTES {
                    return;
                }
                let hash = asset::hex(&asset::sha256(s.as_bytes()));
                if !self.known.contains(&hash) {
                    self.known.push(hash.clone());
                    let body = reel_shared::zstd::compress(s.as_bytes());
                    self.queue.push_back(Pending {
                        hash: hash.clone(),
                        body,
                    });
                }
                *s = asset::reference(&hash);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::parse_batch;

    fn convert(json: &str) -> Vec<Event> {
        parse_batch(json)
            .unwrap()
            .into_iter()
            .filter_map(crate::convert::event)
            .collect()
    }

    #[test]
    fn big_sheets_become_references_and_masked_text_never_does() {
        let css = format!(
            "@font-face{{src:url(data:font/woff2;base64,{})}}",
            "Q".repeat(6000)
        );
        let secret = "secret words ".repeat(600);
        let json = serde_json::json!([{
            "k": "snap", "t": 1, "sx": 0, "sy": 0,
            "nodes": [
                {"id": 1, "p": 0, "k": 9},
                {"id": 2, "p": 1, "k": 1, "tag": "style"},
                {"id": 3, "p": 2, "k": 3, "x": css},
                // A masked style's text (textCtx never masks a sheet, but
                // the rule must hold whatever the capture layer says).
                {"id": 4, "p": 1, "k": 1, "tag": "style", "m": 1},
                {"id": 5, "p": 4, "k": 3, "x": secret, "m": 1},
                {"id": 6, "p": 1, "k": 1, "tag": "link", "css": css},
            ]
        }])
        .to_string();
        let mut events = convert(&json);
        let mut a = Assets::default();
        a.extract(&mut events);
        // One asset, queued once though it appears twice.
        assert_eq!(a.queue.len(), 1);
        let p = &a.queue[0];
        assert_eq!(p.hash, asset::hex(&asset::sha256(css.as_bytes())));
        let back = reel_shared::chunk::decompress_body(&p.body, &Default::default()).unwrap();
        assert_eq!(back, css.as_bytes());
        let reel_shared::EventData::FullSnapshot(s) = &events[0].data else {
            panic!()
        };
        let text = |i: usize| match &s.nodes[i].kind {
            reel_shared::NodeKind::Text(t) => t.clone(),
            reel_shared::NodeKind::Element(e) => e.stylesheet.clone().unwrap_or_default(),
            _ => String::new(),
        };
        assert_eq!(asset::parse_ref(&text(2)), Some(p.hash.as_str()));
        assert_eq!(asset::parse_ref(&text(5)), Some(p.hash.as_str()));
        // The masked text is the mask, inline; nothing of it is queued.
        assert_eq!(text(4), crate::mask::TEXT_MASK);
        assert!(a.queue.iter().all(|p| {
            let b = reel_shared::chunk::decompress_body(&p.body, &Default::default()).unwrap();
            !String::from_utf8_lossy(&b).contains("secret")
        }));
    }
}
