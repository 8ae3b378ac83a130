//! Reel's shared vocabulary: the events a recorder captures, the nodes of a
//! serialised document, and the chunk format that carries them over the wire
//! and into storage.
//!
//! Everything here is pure: no DOM, no network, no disk. The same code runs
//! in the recorder (wasm), the server and the player (wasm), which is what
//! keeps the three in agreement about the format.

pub mod asset;
pub mod chunk;
pub mod event;
pub mod frames;
pub mod ids;
#[cfg(feature = "encode")]
pub mod msgpack;
pub mod msgpack_read;
pub mod node;
pub mod signals;
pub mod text;
#[cfg(feature = "encode")]
pub mod zstd;

pub use chunk::{decode_chunk, decode_header, Chunk, ChunkError, ChunkHeader, ChunkStats, Limits};
#[cfg(feature = "encode")]
pub use chunk::{encode_chunk, ChunkEncoder, FRAME_BYTES};
pub use event::*;
pub use ids::{NodeId, SessionId, SessionIdError, NO_NODE};
pub use node::*;
