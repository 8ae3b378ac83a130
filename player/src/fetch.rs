//! Loading a session from the server.
//!
//! Same-origin requests with `credentials: same-origin`: the page is
//! authorised by the `reel_token` cookie (or by an `Authorization` header
//! that a test adds to every request the page makes); the player never sees
//! or stores a token itself.

use crate::load;
use reel_shared::{Chunk, EventData};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestCredentials, RequestInit, Response};

/// A readable message for a failed request or a rejected promise.
pub fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            js_sys::Reflect::get(e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

/// A GET the browser has already started: made by [`Request::start`],
/// awaited later, so that two requests can be on their way at once.
pub struct Request {
    url: String,
    /// Handlers are attached as it is made: a failure nobody awaits is not
    /// reported as an unhandled rejection.
    response: JsFuture,
}

impl Request {
    pub fn start(url: String) -> Result<Self, String> {
        let window = web_sys::window().ok_or("no window")?;
        let init = RequestInit::new();
        init.set_method("GET");
        init.set_credentials(RequestCredentials::SameOrigin);
        let response = JsFuture::from(window.fetch_with_str_and_init(&url, &init));
        Ok(Request { url, response })
    }
}

async fn get(url: &str) -> Result<Response, String> {
    response(Request::start(url.to_string())?).await
}

/// The request's response, if it succeeded.
async fn response(req: Request) -> Result<Response, String> {
    let url = req.url;
    let resp = req.response.await.map_err(|e| describe(&e))?;
    let resp: Response = resp
        .dyn_into()
        .map_err(|_| "fetch did not return a Response".to_string())?;
    if !resp.ok() {
        return Err(match resp.status() {
            401 | 403 => format!(
                "not authorised to read {url} ({}); sign in first",
                resp.status()
            ),
            404 => "no such session".to_string(),
            s => format!("{url} answered {s}"),
        });
    }
    Ok(resp)
}

/// What the player uses of a session's index entry.
#[derive(Clone, Debug, Default)]
pub struct SessionMeta {
    /// The first page's URL ("" when none was recorded).
    pub url: String,
    pub started_at: Option<String>,
    pub user_id: Option<String>,
    pub duration_ms: f64,
}

/// `GET /api/v1/sessions/{id}`: the session's index entry, parsed by the
/// browser's `JSON.parse` (no JSON parser in the wasm).
pub async fn session_meta(id: &str) -> Result<SessionMeta, String> {
    let resp = get(&format!("/api/v1/sessions/{id}")).await?;
    let text = JsFuture::from(resp.text().map_err(|e| describe(&e))?)
        .await
        .map_err(|e| describe(&e))?;
    let text = text.as_string().unwrap_or_default();
    let v = js_sys::JSON::parse(&text)
        .map_err(|e| format!("bad session metadata: {}", describe(&e)))?;
    // Reflect.get fails on a non-object: a missing field, as it should be.
    let get = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &k.into()).ok();
    Ok(SessionMeta {
        url: get(&v, "urls")
            .and_then(|u| js_sys::Reflect::get_u32(&u, 0).ok())
            .and_then(|u| u.as_string())
            .unwrap_or_default(),
        started_at: get(&v, "started_at").and_then(|s| s.as_string()),
        user_id: get(&v, "user_id").and_then(|s| s.as_string()),
        duration_ms: get(&v, "duration_ms")
            .and_then(|d| d.as_f64())
            .unwrap_or(0.0),
    })
}

/// `GET /api/v1/sessions/{id}/chunks?from=SEQ`, read as it arrives: each
/// [`ChunkStream::next`] yields the chunks completed by the next piece of
/// the body, so a long session's first frame can be shown long before its
/// last chunk is downloaded.
pub struct ChunkStream {
    reader: web_sys::ReadableStreamDefaultReader,
    framer: load::Framer,
    /// Frames received but not decoded yet: a fast network delivers the
    /// whole session in one read, and decoding it all before showing
    /// anything would make the first frame wait for the last chunk.
    queue: std::collections::VecDeque<(usize, Vec<u8>)>,
    done: bool,
    /// Whether a chunk with a full snapshot was decoded yet.
    snapshot: bool,
    /// The session, whose assets the chunks may refer to.
    id: String,
}

/// At most this many chunks are decoded per [`ChunkStream::next`].
const DECODE_BATCH: usize = 8;

impl ChunkStream {
    pub async fn open(id: &str, from: u32) -> Result<Self, String> {
        Self::opened(id, Self::request(id, from)?).await
    }

    /// Starts the request for the chunks from `from` on (the first load
    /// starts it before the session's metadata has arrived).
    pub fn request(id: &str, from: u32) -> Result<Request, String> {
        Request::start(format!("/api/v1/sessions/{id}/chunks?from={from}"))
    }

    /// The stream of a request made by [`ChunkStream::request`].
    pub async fn opened(id: &str, req: Request) -> Result<Self, String> {
        let resp = response(req).await?;
        let body = resp.body().ok_or("the chunks response has no body")?;
        let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
        Ok(ChunkStream {
            reader,
            framer: load::Framer::new(),
            queue: Default::default(),
            done: false,
            snapshot: false,
            id: id.to_string(),
        })
    }

    /// The chunks that decoded from the next piece of the body (chunks that
    /// do not decode are skipped with a console warning); `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Vec<Chunk>>, String> {
        if self.queue.is_empty() && !self.done {
            self.read().await?;
        }
        if self.queue.is_empty() && self.done {
            return Ok(None);
        }
        let mut chunks = Vec::new();
        for _ in 0..DECODE_BATCH {
            let Some((i, bytes)) = self.queue.pop_front() else {
                break;
            };
            match load::decode(i, &bytes) {
                Ok(c) => {
                    // The first frame needs the first full snapshot and
                    // nothing after it: it is shown before more is decoded.
                    let first = !self.snapshot
                        && c.events
                            .iter()
                            .any(|e| matches!(e.data, EventData::FullSnapshot(_)));
                    chunks.push(c);
                    if first {
                        self.snapshot = true;
                        break;
                    }
                }
                Err(w) => warn(&w),
            }
        }
        fetch_assets(&self.id, &mut chunks).await;
        crate::assets::resolve(&mut chunks);
        Ok(Some(chunks))
    }

    /// Reads the next piece of the body into the queue.
    async fn read(&mut self) -> Result<(), String> {
        let result = JsFuture::from(self.reader.read())
            .await
            .map_err(|e| describe(&e))?;
        let done = js_sys::Reflect::get(&result, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            if let Some(w) = self.framer.finish() {
                warn(&w);
            }
            self.done = true;
            return Ok(());
        }
        let value = js_sys::Reflect::get(&result, &"value".into()).map_err(|e| describe(&e))?;
        let bytes = value
            .dyn_into::<js_sys::Uint8Array>()
            .map_err(|_| "the chunks stream gave something other than bytes".to_string())?
            .to_vec();
        self.queue.extend(self.framer.split(&bytes));
        Ok(())
    }
}

/// Fetches the assets `chunks` refer to that this page has not fetched
/// yet, all at once; one that cannot be had is warned about and replayed
/// empty.
async fn fetch_assets(id: &str, chunks: &mut [Chunk]) {
    let wanted = crate::assets::wanted(chunks);
    let reqs: Vec<_> = wanted
        .into_iter()
        .map(|h| {
            let req = Request::start(format!("/api/v1/sessions/{id}/assets/{h}"));
            (h, req)
        })
        .collect();
    for (h, req) in reqs {
        let frame = match req {
            Ok(req) => asset_bytes(req).await,
            Err(e) => Err(e),
        };
        let kept = match frame {
            Ok(f) => crate::assets::keep(&h, Some(&f)),
            Err(e) => {
                let _ = crate::assets::keep(&h, None);
                Err(format!("asset {h}: {e}"))
            }
        };
        if let Err(w) = kept {
            warn(&w);
        }
    }
}

async fn asset_bytes(req: Request) -> Result<Vec<u8>, String> {
    let resp = response(req).await?;
    let buf = JsFuture::from(resp.array_buffer().map_err(|e| describe(&e))?)
        .await
        .map_err(|e| describe(&e))?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

fn warn(w: &str) {
    web_sys::console::warn_1(&format!("reel: {w}").into());
}
