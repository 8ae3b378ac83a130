//! A data dir holding one of everything, copied into another store: once
//! whole, once after a copy cut short, once again (nothing to do); and a
//! difference the verification must find. Into another data dir (the
//! logic alone) and into PostgreSQL + S3 (`reel-testsvc`), the real thing.

use super::*;
use crate::auth::Role;
use crate::digest::ChunkFacts;
use crate::projects::DEFAULT_PROJECT;
use crate::store::audit::AuditEntry;
use crate::store::projects::{Privacy, Project, ProjectKey};
use crate::store::saved_segments::SavedSegment;
use crate::store::team::{Login, Member, PersonalToken};
use crate::support::{Comment, Share};
use reel_shared::{encode_chunk, Event, EventData, Identify, Meta};

const T0: u64 = 1_714_564_800_000;
const DAY: u64 = 86_400_000;

fn sid(n: u8) -> SessionId {
    SessionId([n; 16])
}

fn chunk(id: SessionId, seq: u32, user: Option<&str>) -> Vec<u8> {
    let t = T0 + u64::from(seq) * 1_000;
    let mut ev = vec![Event {
        t,
        data: EventData::Meta(Meta {
            href: format!("https://shop.example/p{seq}?utm_source=news"),
            title: "t".into(),
            width: 800,
            height: 600,
            user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)".into(),
            referrer: Some("https://www.google.com/".into()),
            visitor_id: None,
            new_visitor: None,
        }),
    }];
    if let Some(u) = user {
        ev.push(Event {
            t: t + 10,
            data: EventData::Identify(Identify {
                user_id: u.into(),
                traits: None,
            }),
        });
    }
    encode_chunk(id, seq, &ev).unwrap()
}

/// Puts chunks the way ingest does (with their facts), at `now`.
fn put(store: &Store, id: SessionId, seqs: std::ops::Range<u32>, now: u64) {
    let raws: Vec<Vec<u8>> = seqs
        .clone()
        .map(|s| chunk(id, s, (s == 1).then_some("alice@example.com")))
        .collect();
    let hs: Vec<ChunkHeader> = raws.iter().map(|r| header_of(r).unwrap()).collect();
    let facts: Vec<ChunkFacts> = raws.iter().map(|r| ChunkFacts::from_chunk(r)).collect();
    let batch: Vec<(&ChunkHeader, &[u8])> =
        hs.iter().zip(&raws).map(|(h, r)| (h, &r[..])).collect();
    let f: Vec<&ChunkFacts> = facts.iter().collect();
    store.put_chunks_digested(&batch, &f, now).unwrap();
    store.flush_blocking().unwrap();
}

fn audit(action: &str) -> AuditEntry {
    AuditEntry {
        at: T0 + 5,
        actor: "admin".into(),
        action: action.into(),
        session_id: None,
        detail: String::new(),
        address: Some("127.0.0.1".into()),
    }
}

/// A data dir with three sessions (one of them in a project, with a
/// comment, a share link and an asset) and one of every deployment item.
fn source() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let project = Project {
        id: "0123456789abcdef".into(),
        name: "Shop".into(),
        origins: vec!["https://shop.example".into()],
        keys: vec![ProjectKey {
            key: "shop-key".into(),
            created_at: T0,
            revoked_at: None,
        }],
        retention_days: Some(30.0),
        sample_rate: 0.5,
        privacy: Privacy::default(),
        created_at: T0,
    };
    s.put_project(&project).unwrap();
    s.set_session_project(&sid(1), &project.id).unwrap();
    s.set_session_project(&sid(2), DEFAULT_PROJECT).unwrap();
    put(&s, sid(1), 0..5, T0 + DAY);
    put(&s, sid(2), 0..2, T0 + 2 * DAY);
    put(&s, sid(3), 0..1, T0 + 3 * DAY);
    s.config_set("ingest_key", "old-ingest-key").unwrap();
    s.config_set("api_token_sha256", &"ab".repeat(32)).unwrap();
    s.add_comment(&Comment {
        id: format!("{:016x}0102030405060708", 1_500u64),
        session: sid(1),
        t: 1_500,
        text: "look here".into(),
        author: "admin".into(),
        at: T0 + 10,
    })
    .unwrap();
    s.put_share(
        &[7; 32],
        &Share {
            session: sid(1),
            created_at: T0,
            expires_at: T0 + DAY,
            created_by: "admin".into(),
        },
    )
    .unwrap();
    s.asset_put(&sid(1), &[9; 32], b"a stylesheet").unwrap();
    s.add_member(&Member {
        email: "bob@example.com".into(),
        role: Role::Member,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: T0,
    })
    .unwrap();
    s.put_login(
        &[3; 32],
        &Login {
            email: "bob@example.com".into(),
            created_at: T0,
            expires_at: u64::MAX / 2,
            api_token: None,
        },
    )
    .unwrap();
    s.put_token(
        &[4; 32],
        &PersonalToken {
            id: crate::store::team::token_id(&[4; 32]),
            name: "ci".into(),
            email: "bob@example.com".into(),
            created_at: T0,
            api_token: None,
        },
    )
    .unwrap();
    s.put_saved_segment(&SavedSegment {
        id: "00112233aabbccdd".into(),
        name: "mobile".into(),
        filters: [("device".to_string(), "mobile".to_string())].into(),
        created_at: T0,
        created_by: "admin".into(),
    })
    .unwrap();
    // Two equal entries: both must arrive, once each.
    s.append_audit(&audit("login")).unwrap();
    s.append_audit(&audit("login")).unwrap();
    s.append_audit(&audit("delete")).unwrap();
    s.flush_blocking().unwrap();
    (dir, s)
}

fn quiet(_: &str) {}

fn check_migration(open_destination: &dyn Fn() -> Store) {
    let (_dir, from) = source();

    // Whole, in one run.
    let to = open_destination();
    let r = run(&from, &to, &mut quiet).unwrap();
    assert!(r.verified(), "{r}");
    assert_eq!(
        (r.sessions.copied, r.chunks.copied, r.chunks.present),
        (3, 8, 0),
        "{r}"
    );
    assert_eq!(r.chunks_checked, 8);
    for t in [
        r.comments,
        r.shares,
        r.assets,
        r.projects,
        r.members,
        r.logins,
        r.tokens,
        r.saved_segments,
    ] {
        assert_eq!((t.source, t.copied), (1, 1), "{r}");
    }
    assert_eq!((r.audit.source, r.audit.copied), (3, 3), "{r}");
    assert!(r.config.source >= 2);
    // What the other side answers, through the ordinary reads.
    let m = to.session(&sid(1)).unwrap().unwrap();
    assert_eq!(
        (m.chunks, m.user_id.as_deref()),
        (5, Some("alice@example.com"))
    );
    assert_eq!(m.last_activity(), T0 + DAY);
    assert_eq!(m.project.as_deref(), Some("0123456789abcdef"));
    assert_eq!(
        to.sessions_of_user("alice@example.com").unwrap().len(),
        2,
        "people come along"
    );
    assert_eq!(
        to.digest_steps(&sid(1)).unwrap(),
        from.digest_steps(&sid(1)).unwrap()
    );
    assert_eq!(
        to.config_get("ingest_key").unwrap().as_deref(),
        Some("old-ingest-key")
    );
    assert_eq!(
        to.comments(&sid(1)).unwrap(),
        from.comments(&sid(1)).unwrap()
    );
    assert_eq!(
        to.asset_get(&sid(1), &[9; 32]).unwrap().as_deref(),
        Some(&b"a stylesheet"[..])
    );
    assert_eq!(to.audit_entries(0, None, 10).unwrap().len(), 3);

    // Again: nothing to copy, still verified.
    let again = run(&from, &to, &mut quiet).unwrap();
    assert!(again.verified(), "{again}");
    assert_eq!(
        (
            again.sessions.copied,
            again.chunks.copied,
            again.audit.copied
        ),
        (0, 0, 0)
    );
    assert_eq!((again.chunks.present, again.audit.present), (8, 3));

    // A difference is found: a chunk only the destination has.
    put(&to, sid(3), 1..2, T0 + 3 * DAY);
    let found = run(&from, &to, &mut quiet).unwrap();
    assert!(!found.verified());
    assert!(
        found.to_string().contains("in the destination only"),
        "{found}"
    );

    // A copy cut short: half a session and one of the two equal audit
    // entries there already. The next run completes it.
    let to = open_destination();
    to.set_session_project(&sid(1), "0123456789abcdef").unwrap();
    put(&to, sid(1), 0..2, T0 + DAY);
    to.append_audit(&audit("login")).unwrap();
    let r = run(&from, &to, &mut quiet).unwrap();
    assert!(r.verified(), "{r}");
    assert_eq!((r.chunks.copied, r.chunks.present), (6, 2), "{r}");
    assert_eq!((r.audit.copied, r.audit.present), (2, 1), "{r}");
    assert_eq!(to.audit_entries(0, None, 10).unwrap().len(), 3);
    assert!(r.to_string().contains("everything matches"), "{r}");
}

#[test]
fn into_another_data_dir() {
    let dirs = std::sync::Mutex::new(Vec::new());
    check_migration(&|| {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        dirs.lock().unwrap().push(d);
        s
    });
}

#[test]
fn into_postgres_and_s3() {
    let s3 = reel_testsvc::s3();
    check_migration(&|| {
        let db = reel_testsvc::postgres().create_database();
        let bucket = s3.create_bucket();
        let d = crate::store::dist::DistStorage::open_with_env(&bucket, &db, &s3.env()).unwrap();
        Store::new(std::sync::Arc::new(d))
    });
}
