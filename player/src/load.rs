//! Turning the server's chunks response into events.
//!
//! `GET /api/v1/sessions/{id}/chunks` answers with every stored chunk of the
//! session, in sequence order, each framed as a little-endian `u32` length
//! followed by that many bytes. A chunk that does not decode is skipped
//! (with a warning): one bad chunk should cost its own events, not the
//! whole replay.

use reel_shared::{decode_chunk, Event, Limits};

/// The events of every chunk that decodes, and a warning for each problem.
pub fn decode_session(body: &[u8]) -> (Vec<Event>, Vec<String>) {
    let mut events = Vec::new();
    let mut warnings = Vec::new();
    let limits = Limits::default();
    let mut rest = body;
    let mut index = 0usize;
    while !rest.is_empty() {
        let Some((len_bytes, after)) = rest.split_first_chunk::<4>() else {
            warnings.push(format!(
                "chunk {index}: truncated length prefix; ignoring {} trailing bytes",
                rest.len()
            ));
            break;
        };
        let len = u32::from_le_bytes(*len_bytes) as usize;
        let Some(bytes) = after.get(..len) else {
            warnings.push(format!(
                "chunk {index}: says {len} bytes but only {} remain; ignoring it",
                after.len()
            ));
            break;
        };
        match decode_chunk(bytes, &limits) {
            Ok(chunk) => events.extend(chunk.events),
            Err(e) => warnings.push(format!("chunk {index}: skipped: {e}")),
        }
        rest = &after[len..];
        index += 1;
    }
    (events, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_shared::{encode_chunk, Custom, EventData, SessionId};

    fn chunk(seq: u32, t: u64) -> Vec<u8> {
        let events = vec![Event {
            t,
            data: EventData::Custom(Custom {
                name: format!("e{seq}"),
                data: None,
            }),
        }];
        encode_chunk(SessionId([1; 16]), seq, &events).expect("encodes")
    }

    fn frame(chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&(c.len() as u32).to_le_bytes());
            out.extend_from_slice(c);
        }
        out
    }

    #[test]
    fn decodes_every_chunk_in_order() {
        let (events, warnings) = decode_session(&frame(&[&chunk(0, 10), &chunk(1, 20)]));
        assert!(warnings.is_empty());
        assert_eq!(events.iter().map(|e| e.t).collect::<Vec<_>>(), vec![10, 20]);
        assert_eq!(decode_session(&[]), (vec![], vec![]));
    }

    #[test]
    fn bad_chunks_are_skipped_not_fatal() {
        let mut body = frame(&[&chunk(0, 10), b"garbage", &chunk(2, 30)]);
        body.extend_from_slice(&[5, 0]);
        let (events, warnings) = decode_session(&body);
        assert_eq!(events.len(), 2);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let mut body = frame(&[&chunk(0, 10)]);
        body.extend_from_slice(&100u32.to_le_bytes());
        body.extend_from_slice(b"short");
        let (events, warnings) = decode_session(&body);
        assert_eq!((events.len(), warnings.len()), (1, 1));
    }
}
