//! Contract §9, delivery: every file `reel.js` and the player load is sent
//! compressed as the request accepts (brotli, gzip, or as it is), from a
//! versioned URL cached for a year; `reel.js` and the pages are revalidated.
//!
//! The assets are found as a browser finds them: from `/reel.js` and the
//! player's HTML, following every quoted URL of ours in what was fetched
//! (absolute, or relative to the file, like the bindgen glue's snippets).
//! Then a page records through those URLs in headless Chromium, and the
//! player replays it through them.
//!
//! Needs the release server with embedded assets:
//! `cargo xtask dist && cargo build --release -p reel-server`.

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::assets::discover;
use reel_e2e::cdp::Collector;
use reel_e2e::http::{self, HttpResponse};
use reel_e2e::recording::ManualPage;
use reel_e2e::sessions::open_player;
use reel_e2e::ReelServer;
use serde_json::{json, Value};
use std::io::Read;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The four ways of asking, and the encodings each may be answered with
/// (identity only where no variant was kept, e.g. a file too small to gain).
const ASKS: &[(Option<&str>, &[&str])] = &[
    (Some("br"), &["br", ""]),
    (Some("gzip"), &["gzip", ""]),
    (None, &[""]),
    (Some("gzip;q=0, br;q=0"), &[""]),
];

fn decode(res: &HttpResponse) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match res.header("content-encoding").unwrap_or("") {
        "" => out = res.body.clone(),
        "br" => {
            brotli_decompressor::Decompressor::new(&res.body[..], 4096)
                .read_to_end(&mut out)
                .context("brotli")?;
        }
        "gzip" => {
            flate2::read::GzDecoder::new(&res.body[..])
                .read_to_end(&mut out)
                .context("gzip")?;
        }
        other => bail!("unexpected Content-Encoding {other:?}"),
    }
    Ok(out)
}

fn varies_on_encoding(res: &HttpResponse) -> bool {
    res.headers.iter().any(|(n, v)| {
        n == "vary"
            && v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("accept-encoding"))
    })
}

/// One URL asked the four ways: the right encoding, the same bytes once
/// decoded, `Vary`, one ETag per variant, and `cache` as Cache-Control.
/// Returns the identity bytes and the brotli response.
async fn check_encodings(url: &str, auth: &str, cache: &str) -> Result<(Vec<u8>, HttpResponse)> {
    let identity = http::get(url, &[("Authorization", auth)])
        .await?
        .ensure_success(url)?
        .body;
    let mut etags = Vec::new();
    let mut br = None;
    for (ask, allowed) in ASKS {
        let mut headers = vec![("Authorization", auth)];
        if let Some(a) = ask {
            headers.push(("Accept-Encoding", *a));
        }
        let res = http::get(url, &headers).await?.ensure_success(url)?;
        let enc = res.header("content-encoding").unwrap_or("").to_string();
        ensure!(
            allowed.contains(&enc.as_str()),
            "{url} asked with Accept-Encoding {ask:?}: Content-Encoding {enc:?}"
        );
        ensure!(
            decode(&res)? == identity,
            "{url} ({enc:?}) decodes to other bytes than identity"
        );
        ensure!(varies_on_encoding(&res), "{url}: no Vary: Accept-Encoding");
        ensure!(
            res.header("cache-control") == Some(cache),
            "{url}: Cache-Control {:?}, expected {cache:?}",
            res.header("cache-control")
        );
        let etag = res
            .header("etag")
            .with_context(|| format!("{url}: no ETag"))?
            .to_string();
        ensure!(etag.starts_with('"'), "{url}: ETag {etag} is not strong");
        etags.push((enc.clone(), etag));
        if *ask == Some("br") {
            br = Some(res);
        }
    }
    // Variants with different bytes never share an ETag.
    for (e1, t1) in &etags {
        for (e2, t2) in &etags {
            ensure!(
                e1 == e2 || t1 != t2,
                "{url}: {e1:?} and {e2:?} share ETag {t1}"
            );
        }
    }
    Ok((identity, br.context("asked with br")?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_compressed_versioned_and_cached() -> Result<()> {
    let server = ReelServer::start().await?;
    let auth = format!("Bearer {}", server.api_token());

    // --- What a page and the player fetch, and how it is served ---------
    let recorder = discover(&server, &["/reel.js"], &auth).await?;
    let player = discover(
        &server,
        &["/", "/sessions/00000000000000000000000000000000"],
        &auth,
    )
    .await?;
    eprintln!("recorder assets: {recorder:?}\nplayer assets: {player:?}");
    for needed in ["/recorder/", "/player/"] {
        for ext in [".js", ".wasm"] {
            ensure!(
                recorder
                    .iter()
                    .chain(&player)
                    .any(|p| p.starts_with(needed) && p.ends_with(ext)),
                "no {needed}*{ext} found from /reel.js and the player's pages"
            );
        }
    }
    ensure!(
        player.iter().any(|p| p.ends_with(".css")),
        "the player's stylesheet was not found"
    );
    for path in recorder.iter().chain(&player) {
        ensure!(
            path.contains("/v/"),
            "{path} is named without a version: a browser would revalidate it on every load"
        );
        let url = server.url(path);
        let (identity, br) = check_encodings(&url, "", IMMUTABLE).await?;
        if identity.len() > 1024 {
            ensure!(
                br.header("content-encoding") == Some("br"),
                "{path} ({} bytes) is not sent brotli-compressed",
                identity.len()
            );
            ensure!(
                br.body.len() < identity.len(),
                "{path}: brotli is not smaller"
            );
        }
        // The unversioned path is the same file, revalidated instead.
        let plain = unversioned(path)?;
        let res = http::get(&server.url(&plain), &[])
            .await?
            .ensure_success(&plain)?;
        ensure!(res.body == identity, "{plain} differs from {path}");
        ensure!(
            res.header("cache-control") == Some("no-cache"),
            "{plain}: not no-cache"
        );
    }

    // --- reel.js and the pages: small, revalidated ------------------------
    for path in [
        "/reel.js",
        "/",
        "/sessions/00000000000000000000000000000000",
    ] {
        let url = server.url(path);
        let (_, br) = check_encodings(&url, &auth, "no-cache").await?;
        let etag = br.header("etag").context("ETag")?.to_string();
        let weak_in_list = format!("\"0000\", W/{etag}");
        for (if_none_match, expected) in [
            (etag.as_str(), 304),
            ("\"0000\"", 200),
            (weak_in_list.as_str(), 304),
        ] {
            let res = http::get(
                &url,
                &[
                    ("If-None-Match", if_none_match),
                    ("Accept-Encoding", "br"),
                    ("Authorization", &auth),
                ],
            )
            .await?;
            ensure!(
                res.status == expected,
                "{path} with If-None-Match {if_none_match}: HTTP {}, expected {expected}",
                res.status
            );
            if expected == 304 {
                ensure!(res.body.is_empty(), "{path}: 304 with a body");
                ensure!(
                    res.header("etag") == Some(etag.as_str()),
                    "{path}: 304 without its ETag"
                );
                ensure!(varies_on_encoding(&res), "{path}: 304 without Vary");
            }
        }
        // The brotli ETag does not validate the gzip variant.
        let res = http::get(
            &url,
            &[
                ("If-None-Match", etag.as_str()),
                ("Accept-Encoding", "gzip"),
                ("Authorization", &auth),
            ],
        )
        .await?;
        ensure!(res.status == 200, "{path}: brotli's ETag validated gzip");
    }
    // (How small: a benchmark, not a test; see BENCHMARKS.md.)

    // --- HEAD, unknown versions, the variants themselves, CORS -----------
    let head = http::request(
        "HEAD",
        &server.url("/reel.js"),
        &[("Accept-Encoding", "br")],
        &[],
    )
    .await?
    .ensure_success("HEAD /reel.js")?;
    ensure!(head.body.is_empty(), "HEAD with a body");
    ensure!(
        head.header("content-encoding") == Some("br"),
        "HEAD: no Content-Encoding"
    );
    ensure!(
        head.header("content-length") == Some(reel_js_len_br(&server).await?.as_str()),
        "HEAD: Content-Length is not the brotli variant's"
    );
    let wasm = recorder
        .iter()
        .find(|p| p.ends_with(".wasm"))
        .context("the recorder's wasm")?;
    let file = wasm.rsplit('/').next().context("file name")?;
    for bad in [
        format!("/recorder/v/0123456789abcdef/{file}"),
        format!("/recorder/v/{file}"),
        format!("{wasm}.br"),
        format!("{wasm}.gz"),
        "/player/v/0123456789abcdef/boot.js".to_string(),
    ] {
        let res = http::get(&server.url(&bad), &[("Accept-Encoding", "br")]).await?;
        ensure!(
            res.status == 404,
            "{bad}: HTTP {}, expected 404",
            res.status
        );
    }
    let cors = http::get(
        &server.url(wasm),
        &[
            ("Origin", "http://elsewhere.example"),
            ("Accept-Encoding", "br"),
        ],
    )
    .await?;
    ensure!(
        cors.header("access-control-allow-origin") == Some("*"),
        "the versioned recorder is not open to other origins"
    );
    ensure!(
        varies_on_encoding(&cors),
        "CORS dropped Vary: Accept-Encoding"
    );

    // --- A real page records through the versioned URLs -------------------
    let manual = ManualPage::open(&server).await?;
    manual.page.call("Network.enable", json!({})).await?;
    let net = Collector::start(&manual.page, |m| m == "Network.responseReceived");
    let sid = manual.start("{}").await?;
    let stored = server.session(&sid).await?;
    ensure!(
        stored.get("chunks").and_then(Value::as_u64).unwrap_or(0) >= 1,
        "the session was not stored: {stored}"
    );
    let origin = server.origin();
    let wanted: Vec<String> = recorder
        .iter()
        .filter(|p| p.ends_with(".wasm") || p.ends_with("_recorder.js"))
        .map(|p| format!("{origin}{p}"))
        .collect();
    // The responses came before `start` resolved; the collector may still
    // be taking them off the connection.
    let deadline = std::time::Instant::now() + WAIT;
    let fetched = loop {
        let fetched: Vec<(String, Value)> = net
            .snapshot()
            .into_iter()
            .filter_map(|e| {
                let r = e.params.get("response")?.clone();
                Some((r.get("url")?.as_str()?.to_string(), r))
            })
            .collect();
        let all = wanted.iter().all(|w| fetched.iter().any(|(u, _)| u == w));
        if all || std::time::Instant::now() > deadline {
            break fetched;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for url in &wanted {
        let (_, r) = fetched.iter().find(|(u, _)| u == url).with_context(|| {
            format!(
                "the page did not fetch {url}; it fetched {:?}",
                fetched.iter().map(|(u, _)| u).collect::<Vec<_>>()
            )
        })?;
        ensure!(
            r.get("status").and_then(Value::as_u64) == Some(200),
            "{url}: {r}"
        );
        let headers = r.get("headers").cloned().unwrap_or(Value::Null);
        let get = |n: &str| {
            headers.as_object().and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .and_then(|(_, v)| v.as_str().map(str::to_string))
            })
        };
        ensure!(
            get("cache-control").as_deref() == Some(IMMUTABLE),
            "{url}: {headers}"
        );
        let enc = get("content-encoding").unwrap_or_default();
        ensure!(
            enc == "br" || enc == "gzip",
            "Chromium got {url} as {enc:?} (it asks for gzip at least)"
        );
    }
    ensure!(
        !fetched
            .iter()
            .any(|(u, _)| u.contains("/recorder/") && !u.contains("/v/")),
        "the page fetched an unversioned recorder URL: {:?}",
        fetched.iter().map(|(u, _)| u).collect::<Vec<_>>()
    );

    // --- ...and the player replays it through them ------------------------
    let player_page =
        open_player(&manual.browser, &server, &format!("/sessions/{sid}"), WAIT).await?;
    let entries = player_page
        .eval(
            "performance.getEntriesByType('resource')\
             .filter(e => /\\/player\\//.test(e.name))\
             .map(e => ({ name: e.name, encoded: e.encodedBodySize, decoded: e.decodedBodySize }))",
        )
        .await?;
    let entries = entries.as_array().context("resource entries")?;
    let wasm_entry = entries
        .iter()
        .find(|e| e["name"].as_str().is_some_and(|n| n.ends_with(".wasm")))
        .with_context(|| format!("the player did not fetch its wasm: {entries:?}"))?;
    for e in entries {
        let name = e["name"].as_str().unwrap_or_default();
        ensure!(
            name.contains("/player/v/"),
            "the player fetched {name} unversioned"
        );
    }
    ensure!(
        wasm_entry["encoded"].as_f64() < wasm_entry["decoded"].as_f64(),
        "the player's wasm was not sent compressed: {wasm_entry}"
    );
    Ok(())
}

/// `/player/v/{version}/boot.js` → `/player/boot.js`.
/// Contract §9: a page downloads at most 60 KB (60,000 bytes) as served to
/// start recording: `reel.js` and everything it loads (the wasm glue and
/// module), each as a browser that accepts brotli gets it.
/// `cargo xtask sizes` itemises the same files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_page_downloads_at_most_60_kb() -> Result<()> {
    const LIMIT: usize = 60_000;
    let server = ReelServer::start().await?;
    let auth = format!("Bearer {}", server.api_token());
    let mut paths = vec!["/reel.js".to_string()];
    paths.extend(discover(&server, &["/reel.js"], &auth).await?);
    ensure!(
        paths.iter().any(|p| p.ends_with(".wasm")),
        "the recorder's wasm was not found from /reel.js: {paths:?}"
    );
    let mut total = 0;
    let mut each = Vec::new();
    for path in &paths {
        let res = http::get(
            &server.url(path),
            &[("Accept-Encoding", "gzip, deflate, br, zstd")],
        )
        .await?
        .ensure_success(path)?;
        total += res.body.len();
        each.push(format!("{path}: {} B", res.body.len()));
    }
    eprintln!("a recording page downloads {total} B: {each:?}");
    ensure!(
        total <= LIMIT,
        "a recording page downloads {total} B as served, over contract §9's {LIMIT}: {each:?}"
    );
    Ok(())
}

fn unversioned(path: &str) -> Result<String> {
    let parts: Vec<&str> = path.splitn(5, '/').collect();
    match parts[..] {
        ["", tree, "v", _, rest] => Ok(format!("/{tree}/{rest}")),
        _ => bail!("{path} is not versioned"),
    }
}

/// The length of `/reel.js`'s brotli variant.
async fn reel_js_len_br(server: &ReelServer) -> Result<String> {
    let res = http::get(&server.url("/reel.js"), &[("Accept-Encoding", "br")]).await?;
    Ok(res.body.len().to_string())
}
