//! Identifiers: node ids inside a session, and session ids.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A node's id within one session. Assigned by the recorder when a node is
/// first serialised; a node that moves keeps its id; a removed node's id is
/// never given to another node. `0` means "no node".
pub type NodeId = u32;

/// "No node": the parent of a document, or "append at the end" as a next
/// sibling.
pub const NO_NODE: NodeId = 0;

/// 128 random bits chosen by the recorder. Written as 32 lowercase hex
/// digits in URLs and JSON, so an id is unguessable and easy to validate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; 16]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a session id is 32 lowercase hexadecimal digits")]
pub struct SessionIdError;

impl SessionId {
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(SessionId)
    }
}

impl FromStr for SessionId {
    type Err = SessionIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() != 32 {
            return Err(SessionIdError);
        }
        let mut out = [0u8; 16];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
        }
        Ok(SessionId(out))
    }
}

fn hex_val(c: u8) -> Result<u8, SessionIdError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(SessionIdError),
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

impl Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_hex() {
        let id = SessionId([0xab; 16]);
        let s = id.to_string();
        assert_eq!(s, "ab".repeat(16));
        assert_eq!(s.parse::<SessionId>(), Ok(id));
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in [
            "",
            "abc",
            &"AB".repeat(16),
            &"zz".repeat(16),
            &"a".repeat(33),
        ] {
            assert!(bad.parse::<SessionId>().is_err(), "{bad}");
        }
    }
}
