//! Throws arbitrary bytes at both chunk decoders: `reel_shared`'s full
//! decoder (what the player and `/events` use) and the server's ingest
//! validation (`server/src/validate.rs`, compiled in here by path so this
//! crate does not build the whole server). Neither may panic, hang, or
//! allocate past its limits (libFuzzer's `-rss_limit_mb` and
//! `-malloc_limit_mb` catch that), whatever the bytes claim.

#![no_main]

use libfuzzer_sys::fuzz_target;
use reel_shared::{decode_chunk, Limits};

#[path = "../../server/src/validate.rs"]
#[allow(dead_code)]
mod validate;

const MAX_DECOMPRESSED: usize = 4 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_header: 64 * 1024,
        max_decompressed: MAX_DECOMPRESSED,
        max_events: 100_000,
    };
    let full = decode_chunk(data, &limits);
    let ingest = validate::IngestLimits {
        max_body: usize::MAX,
        max_decompressed: MAX_DECOMPRESSED,
        max_events: 100_000,
        ..Default::default()
    };
    let light = validate::validate_chunk(data, &ingest);
    // Both read the same header the same way.
    if let (Ok(chunk), Ok(header)) = (&full, &light) {
        assert_eq!(&chunk.header, header);
        assert_eq!(chunk.events.len(), header.event_count as usize);
    }
});
