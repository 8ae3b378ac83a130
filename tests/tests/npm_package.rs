//! The npm package `cargo xtask dist` writes (`target/npm/*.tgz`), used
//! as an application would: installed with npm into a fresh app, imported
//! by name (every `window.Reel` member), bundled with esbuild, served by a
//! page server of its own and opened in Chromium; the session it records
//! lands on a real reel-server with its events, the wasm half loaded from
//! that server. Its TypeScript types are checked with `tsc --strict`.

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::{Browser, PageServer, ReelServer};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The one package `cargo xtask dist` wrote.
fn tarball() -> Result<PathBuf> {
    let dir = target_dir().join("npm");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)
        .with_context(|| format!("{} missing: run `cargo xtask dist`", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "tgz") {
            found.push(path);
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!("expected one .tgz in {}: {found:?}", dir.display()),
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("could not start {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

const APP: &str = r#"
import { start, stop, flush, sessionId, event, identify, consent, optOut } from 'reel-recorder';

const api = { start, stop, flush, sessionId, event, identify, consent, optOut };
window.appResult = (async () => {
  const missing = Object.keys(api).filter((k) => typeof api[k] !== 'function');
  if (missing.length) throw new Error('not functions: ' + missing.join(', '));
  const started = await start({ endpoint: window.REEL_ENDPOINT, ingestKey: window.REEL_KEY });
  const item = document.createElement('li');
  item.textContent = 'added by the bundled app';
  document.getElementById('list').appendChild(item);
  identify('npm-user', { plan: 'test' });
  event('npm-app-ready', { ok: true });
  await flush();
  // The package defined window.Reel (no tag did): one recorder, two names.
  return { started, id: sessionId(), global: window.Reel.sessionId() };
})();
"#;

/// TypeScript code using every export and typed options.
const TYPED_APP: &str = r#"
import { start, stop, flush, sessionId, event, identify, consent, optOut, type ReelOptions } from 'reel-recorder';

const options: ReelOptions = {
  endpoint: 'http://127.0.0.1:7070',
  ingestKey: 'KEY',
  maskAllText: true,
  blockSelector: null,
  idleTimeoutMs: 60000,
  canvasIntervalMs: 0,
};
export async function run(): Promise<string | null> {
  const started = await start(options);
  event('typed', { ok: true });
  identify('user', { plan: 'pro' });
  consent(true);
  await flush();
  await stop();
  await optOut();
  return started ? started.sessionId : sessionId();
}
"#;

/// The package's types, as an application's `tsc --strict` sees them: code
/// using them right compiles, an option of the wrong type does not.
fn check_types(app: &Path) -> Result<()> {
    let tsc = root().join("target/tools/node_modules/.bin/tsc");
    let args = [
        "--noEmit",
        "--strict",
        "--module",
        "esnext",
        "--moduleResolution",
        "bundler",
        "--target",
        "es2020",
        "--lib",
        "es2020,dom",
    ];
    std::fs::write(app.join("typed.ts"), TYPED_APP)?;
    run(Command::new(&tsc)
        .current_dir(app)
        .args(args)
        .arg("typed.ts"))
    .context("the package's types reject correct code")?;
    std::fs::write(
        app.join("wrong.ts"),
        "import { start } from 'reel-recorder';\nvoid start({ ingestKey: 'k', idleTimeoutMs: 'soon' });\n",
    )?;
    let wrong = Command::new(&tsc)
        .current_dir(app)
        .args(args)
        .arg("wrong.ts")
        .output()?;
    ensure!(
        !wrong.status.success(),
        "the package's types accept a string for idleTimeoutMs"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_npm_package_records_from_an_application_bundle() -> Result<()> {
    let tgz = tarball()?;
    let app = tempfile::tempdir()?;
    std::fs::write(
        app.path().join("package.json"),
        r#"{ "name": "reel-npm-test-app", "private": true, "type": "module" }"#,
    )?;
    run(Command::new("npm")
        .current_dir(app.path())
        .args(["install", "--no-audit", "--no-fund", "--silent"])
        .arg(&tgz))?;
    let installed = app.path().join("node_modules/reel-recorder");
    for f in ["package.json", "index.js", "index.d.ts"] {
        ensure!(
            installed.join(f).exists(),
            "the package has no {f}: {}",
            installed.display()
        );
    }
    let types = std::fs::read_to_string(installed.join("index.d.ts"))?;
    for name in [
        "start",
        "stop",
        "flush",
        "sessionId",
        "event",
        "identify",
        "consent",
        "optOut",
    ] {
        ensure!(
            types.contains(&format!("export function {name}(")),
            "index.d.ts does not declare {name}"
        );
    }
    ensure!(
        types.contains("idleTimeoutMs?: number;") && types.contains("ingestKey: string;"),
        "index.d.ts lacks the options: {types}"
    );
    check_types(app.path())?;
    std::fs::write(app.path().join("app.js"), APP)?;
    let bundle = app.path().join("bundle.js");
    run(
        Command::new(root().join("target/tools/node_modules/.bin/esbuild"))
            .current_dir(app.path())
            .args(["app.js", "--bundle", "--format=esm", "--minify"])
            .arg(format!("--outfile={}", bundle.display())),
    )?;

    let server = ReelServer::start().await?;
    let pages = PageServer::start_in(app.path(), &[]).await?;
    pages.add_page(
        "/index.html",
        "text/html",
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>npm app</title>\
             <script>window.REEL_ENDPOINT = {:?}; window.REEL_KEY = {:?};</script>\
             <script type=\"module\" src=\"/bundle.js\"></script>\
             </head><body><ul id=\"list\"><li>first</li></ul></body></html>",
            server.origin(),
            server.ingest_key()
        ),
    );
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/index.html")).await?;
    let result = page
        .wait_for("window.appResult && window.appResult.then((r) => r)", WAIT)
        .await
        .context("the bundled app never finished")?;
    let sid = result["id"].as_str().unwrap_or_default().to_string();
    ensure!(
        sid.len() == 32 && result["started"]["sessionId"] == sid.as_str(),
        "start() did not resolve to the session: {result}"
    );
    ensure!(
        result["global"] == sid.as_str(),
        "window.Reel is not the package's recorder: {result}"
    );
    // The wasm half came from the reel-server, not the app's origin.
    ensure!(
        !pages
            .requests()
            .iter()
            .any(|r| r.target.contains("reel_recorder")),
        "the app's origin was asked for the recorder's wasm"
    );

    let events = server.events(&sid).await?;
    let kinds: Vec<String> = events
        .iter()
        .filter_map(|e| e["data"].as_object().and_then(|o| o.keys().next().cloned()))
        .collect();
    for want in ["Meta", "FullSnapshot", "Identify", "Custom"] {
        ensure!(
            kinds.iter().any(|k| k == want),
            "no {want} event in the session: {kinds:?}"
        );
    }
    let text = serde_json::to_string(&events)?;
    ensure!(
        text.contains("npm-app-ready") && text.contains("npm-user"),
        "the app's event and user are missing: {text}"
    );
    ensure!(
        kinds.iter().any(|k| k == "Mutation") || text.contains("added by the bundled app"),
        "the app's DOM change is missing"
    );
    let exceptions = page.exceptions();
    ensure!(exceptions.is_empty(), "uncaught errors: {exceptions:?}");
    Ok(())
}
