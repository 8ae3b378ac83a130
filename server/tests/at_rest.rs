//! The data dir at rest (issue 20, items 12, 3 and 14): private to its
//! owner, holding no secret in clear; and a disk that fills up: ingest
//! answers `507` with `Retry-After` before it is full (the headroom), a
//! write that meets a full disk anyway answers `507` too, and a server
//! started on a full disk comes up, serving reads.

mod common;

use common::*;
use reel_shared::SessionId;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A generated API token is shown once and kept as its hash: no file of
/// the data dir holds its clear text, and every file is 0600 in a 0700
/// dir.
#[test]
fn the_data_dir_is_private_and_holds_no_clear_token() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let server = start(&dir, &[]);
    let key = value_of(&server.banner, "ingest key: ").to_owned();
    let token = value_of(&server.banner, "api token: ").to_owned();
    assert_eq!(token.len(), 32, "{:?}", server.banner);
    let id = SessionId([0x61; 16]);
    for seq in 0..3 {
        let (status, _, _) = post_chunk(&server.addr, &key, id, seq, &chunk(id, seq, 5, 30));
        assert_eq!(status, 200);
    }
    let (status, _) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), &token);
    assert_eq!(status, 200);
    drop(server);

    let server = start(&dir, &[]);
    assert!(value_of(&server.banner, "api token: ").contains("hashed"));
    let (status, meta) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), &token);
    assert_eq!(status, 200, "the token still signs in: {meta}");
    assert_eq!(meta["chunks"], 3);
    drop(server);

    assert_eq!(mode(&dir), 0o700, "the data dir");
    let all = files(&dir);
    assert!(all.iter().any(|p| p.ends_with("keep.json")), "{all:?}");
    assert!(all
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "log")));
    for p in &all {
        assert_eq!(mode(p), 0o600, "{}", p.display());
        let bytes = std::fs::read(p).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "{} holds the API token in clear",
            p.display()
        );
        if let Some(d) = p.parent() {
            assert_eq!(mode(d), 0o700, "{}", d.display());
        }
    }
}

/// A data dir made world-readable (by an earlier version, or by hand)
/// is made private at the next start.
#[test]
fn an_open_data_dir_is_made_private() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    drop(start(&dir, &["--api-token", "t"]));
    for p in files(&dir) {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    drop(start(&dir, &["--api-token", "t"]));
    assert_eq!(mode(&dir), 0o700);
    for p in files(&dir) {
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}

fn assert_507(status: u16, head: &str, body: &[u8]) {
    assert_eq!(status, 507, "{}", String::from_utf8_lossy(body));
    assert!(head.contains("retry-after: "), "{head}");
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert!(v["error"].as_str().unwrap().contains("disk is full"), "{v}");
}

/// Below the headroom ingest answers 507 (nothing stored), reads go on;
/// with room again, ingest resumes.
#[test]
fn ingest_answers_507_below_the_headroom() {
    let dir = tempfile::tempdir().unwrap();
    let id = SessionId([0x62; 16]);
    let server = start(dir.path(), &["--ingest-key", "k", "--api-token", "t"]);
    let (status, _, _) = post_chunk(&server.addr, "k", id, 0, &chunk(id, 0, 5, 30));
    assert_eq!(status, 200);
    drop(server);
    // More headroom than any disk has.
    let huge = (1u64 << 60).to_string();
    let args = [
        "--ingest-key",
        "k",
        "--api-token",
        "t",
        "--min-free-bytes",
        &huge,
    ];
    let server = start(dir.path(), &args);
    let (status, head, body) = post_chunk(&server.addr, "k", id, 1, &chunk(id, 1, 5, 30));
    assert_507(status, &head, &body);
    let (status, meta) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), "t");
    assert_eq!((status, meta["chunks"].as_u64()), (200, Some(1)));
    drop(server);
    let server = start(dir.path(), &["--ingest-key", "k", "--api-token", "t"]);
    let (status, _, _) = post_chunk(&server.addr, "k", id, 1, &chunk(id, 1, 5, 30));
    assert_eq!(status, 200);
}

/// A small filesystem of our own (tmpfs, which needs root: skipped with a
/// note without it), unmounted however the test ends.
struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    fn tmpfs(size: &str) -> Option<Mount> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Mount { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let umount = |lazy: bool| {
            std::process::Command::new("umount")
                .args(lazy.then_some("-l"))
                .arg(self.dir.path())
                .status()
                .is_ok_and(|s| s.success())
        };
        // Lazily if something still holds it: never left mounted.
        if !umount(false) {
            umount(true);
        }
    }
}

/// A disk that really fills up: with no headroom, the write that meets
/// the full disk answers 507 (not 500) and the server stays up; killed
/// and started again on the full disk (default headroom), it comes up,
/// serves every chunk it acknowledged, and answers ingest 507; given room,
/// it takes chunks again.
#[test]
fn a_full_disk_answers_507_and_a_start_on_it_serves_reads() {
    let Some(mount) = Mount::tmpfs("24m") else {
        eprintln!("cannot mount a tmpfs here (not root?): skipped; the headroom test covers 507");
        return;
    };
    let data = mount.path().join("data");
    let id = SessionId([0x63; 16]);
    let mut acked = 0u32;
    {
        let args = [
            "--ingest-key",
            "k",
            "--api-token",
            "t",
            "--min-free-bytes",
            "0",
        ];
        let server = start(&data, &args);
        loop {
            // ~100 KB that compresses poorly.
            let c = chunk(id, acked, 100, 1_000);
            let (status, head, body) = post_chunk(&server.addr, "k", id, acked, &c);
            if status == 200 {
                acked += 1;
                assert!(acked < 1_000, "the disk never filled");
                continue;
            }
            assert_507(status, &head, &body);
            break;
        }
        assert!(acked > 10, "{acked}");
        let (status, meta) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), "t");
        assert_eq!(
            (status, meta["chunks"].as_u64()),
            (200, Some(u64::from(acked)))
        );
    } // SIGKILL

    let args = ["--ingest-key", "k", "--api-token", "t"];
    let server = start(&data, &args);
    let (status, meta) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), "t");
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["chunks"].as_u64(), Some(u64::from(acked)));
    let (status, head, body) =
        post_chunk(&server.addr, "k", id, acked, &chunk(id, acked, 100, 1_000));
    assert_507(status, &head, &body);
    drop(server);

    mount.resize("64m");
    let server = start(&data, &args);
    let (status, _, body) = post_chunk(&server.addr, "k", id, acked, &chunk(id, acked, 5, 30));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, meta) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), "t");
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["chunks"].as_u64(), Some(u64::from(acked) + 1));
}
