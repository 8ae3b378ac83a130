//! How long opening a data dir takes when the index is gone and the whole
//! segment log is read again (`cargo run --release -p reel-server
//! --example open_time -- [MB]`): writes ~MB of real chunks, removes
//! sled's files, and times the open that rebuilds the index.

use reel_server::store::Store;
use reel_shared::{encode_chunk, ChunkHeader, Custom, Event, EventData, Limits, SessionId};
use std::time::Instant;

fn chunk(id: SessionId, seq: u32) -> (ChunkHeader, Vec<u8>) {
    // Text that compresses like a page's does: not at all repetitive.
    let mut x = u64::from(seq) * 2_654_435_761 + 1;
    let events: Vec<Event> = (0..200)
        .map(|i| {
            let name: String = (0..80)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b'a' + (x % 26) as u8)
                })
                .collect();
            Event {
                t: 1_700_000_000_000 + u64::from(seq) * 1_000 + i,
                data: EventData::Custom(Custom { name, data: None }),
            }
        })
        .collect();
    let raw = encode_chunk(id, seq, &events).unwrap();
    let (h, _) = reel_shared::decode_header(&raw, &Limits::default()).unwrap();
    (h, raw)
}

fn main() {
    let mb: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = 0u64;
    let mut chunks = 0u32;
    {
        let store = Store::open(dir.path()).unwrap();
        while bytes < mb * 1024 * 1024 {
            let group: Vec<(ChunkHeader, Vec<u8>)> = (0..64)
                .map(|i| chunk(SessionId([(chunks / 500) as u8 + 1; 16]), chunks + i))
                .collect();
            let batch: Vec<(&ChunkHeader, &[u8])> =
                group.iter().map(|(h, r)| (h, r.as_slice())).collect();
            store.put_chunks(&batch, 1_800_000_000_000).unwrap();
            store.sync().unwrap();
            bytes += group.iter().map(|(_, r)| r.len() as u64).sum::<u64>();
            chunks += 64;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let e = e.unwrap();
        if e.file_name() == "segments" {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            std::fs::remove_dir_all(e.path()).unwrap();
        } else {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    // Cold-ish: the log's pages leave the cache as they are synced.
    let t = Instant::now();
    let store = Store::open(dir.path()).unwrap();
    let took = t.elapsed();
    let n: u64 = (1..=(chunks / 500 + 1) as u8)
        .filter_map(|i| store.session(&SessionId([i; 16])).unwrap())
        .map(|m| m.chunks)
        .sum();
    println!(
        "{chunks} chunks, {:.1} MB of log: open with the index removed took {:.2} s ({n} chunks indexed)",
        bytes as f64 / 1e6,
        took.as_secs_f64()
    );
}
