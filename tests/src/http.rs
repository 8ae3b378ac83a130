//! A minimal HTTP/1.1 client over a tokio `TcpStream`.
//!
//! Why hand-written: the tests only ever talk plain HTTP to servers on
//! 127.0.0.1 (the Reel server and the page server), one request per
//! connection. A full client (reqwest, hyper) would double the crate's build
//! time on a 2-core machine for nothing. `Connection: close` lets us read the
//! response to EOF; we still honour `Content-Length` and
//! `Transfer-Encoding: chunked`, since axum streams some bodies.

use anyhow::{anyhow, bail, Context, Result};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one request may take, connect to last byte. Generous: a debug
/// build of a test on a loaded 2-core machine can be slow, but a hung server
/// must still fail the test rather than block it forever.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A complete response: status, headers (names lowercased) and the body with
/// any chunked transfer-encoding removed.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text (lossy: this is for messages and assertions).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON, with the body in the error when it is not.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "response body (status {}) is not JSON: {}",
                self.status,
                truncate(&self.text(), 500)
            )
        })
    }

    /// Fails unless the status is 2xx, quoting the body (the server's
    /// `{"error": ...}`) so a failing test says why.
    pub fn ensure_success(self, what: &str) -> Result<Self> {
        if (200..300).contains(&self.status) {
            Ok(self)
        } else {
            bail!(
                "{what}: HTTP {} with body {}",
                self.status,
                truncate(&self.text(), 1000)
            )
        }
    }
}

/// The parts of an `http://host:port/path?query` URL we need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// `host:port`, as used for both connecting and the `Host` header.
    pub authority: String,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("only http:// URLs are supported, got {url:?}"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            bail!("URL {url:?} has no host");
        }
        let authority = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(HttpUrl {
            authority,
            path: path.to_string(),
        })
    }
}

/// Sends one request and reads the whole response, within
/// [`REQUEST_TIMEOUT`].
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<HttpResponse> {
    tokio::time::timeout(REQUEST_TIMEOUT, request_inner(method, url, headers, body))
        .await
        .map_err(|_| anyhow!("{method} {url}: no complete response within {REQUEST_TIMEOUT:?}"))?
        .with_context(|| format!("{method} {url}"))
}

/// `GET` with the given headers.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse> {
    request("GET", url, headers, &[]).await
}

async fn request_inner(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<HttpResponse> {
    let u = HttpUrl::parse(url)?;
    let mut stream = TcpStream::connect(&u.authority)
        .await
        .with_context(|| format!("connecting to {}", u.authority))?;
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        u.path,
        u.authority,
        body.len()
    );
    for (name, value) in headers {
        if name.contains(['\r', '\n']) || value.contains(['\r', '\n']) {
            bail!("header {name:?} contains a line break");
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    let mut raw = Vec::new();
    // A server may reset instead of closing cleanly after a complete
    // response; keep what we have and let parsing decide.
    if let Err(e) = stream.read_to_end(&mut raw).await {
        if raw.is_empty() {
            return Err(e).context("reading the response");
        }
    }
    parse_response(&raw, method == "HEAD")
}

/// Parses a complete HTTP/1.1 response held in memory.
pub fn parse_response(raw: &[u8], head_only: bool) -> Result<HttpResponse> {
    let end = find(raw, b"\r\n\r\n").ok_or_else(|| {
        anyhow!(
            "response has no end of headers ({} bytes: {})",
            raw.len(),
            truncate(&String::from_utf8_lossy(raw), 300)
        )
    })?;
    let head = std::str::from_utf8(&raw[..end]).context("response headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        bail!("bad status line {status_line:?}");
    }
    let status: u16 = parts
        .next()
        .unwrap_or_default()
        .parse()
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| anyhow!("bad header line {line:?}"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let rest = &raw[end + 4..];
    let mut resp = HttpResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(resp);
    }
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    resp.body = if chunked {
        decode_chunked(rest)?
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len
            .parse()
            .with_context(|| format!("bad content-length {len:?}"))?;
        if rest.len() < len {
            bail!(
                "response body truncated: content-length {len}, got {}",
                rest.len()
            );
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(resp)
}

/// Removes HTTP/1.1 chunked transfer-encoding.
pub fn decode_chunked(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end =
            find(data, b"\r\n").ok_or_else(|| anyhow!("chunked body: missing chunk size line"))?;
        let line = std::str::from_utf8(&data[..line_end])?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .with_context(|| format!("chunked body: bad chunk size {line:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            bail!(
                "chunked body truncated: chunk of {size} bytes, {} left",
                data.len()
            );
        }
        out.extend_from_slice(&data[..size]);
        if &data[size..size + 2] != b"\r\n" {
            bail!("chunked body: chunk not followed by CRLF");
        }
        data = &data[size + 2..];
    }
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabcdef",
            false,
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        assert_eq!(r.header("x-a"), Some("b"));
        let r = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abcde"[..]));
    }

    #[test]
    fn parses_urls() {
        let u = HttpUrl::parse("http://127.0.0.1:9/a/b?c=d").unwrap();
        assert_eq!(u.authority, "127.0.0.1:9");
        assert_eq!(u.path, "/a/b?c=d");
        assert_eq!(HttpUrl::parse("http://h").unwrap().path, "/");
        assert!(HttpUrl::parse("https://h/").is_err());
    }
}
