use super::*;
use crate::event::*;
use proptest::prelude::*;

fn ev(t: u64, data: EventData) -> Event {
    Event { t, data }
}

fn mouse(t: u64, kind: MouseKind, x: i32, y: i32) -> Event {
    ev(
        t,
        EventData::Mouse(MouseInteraction {
            kind,
            id: 7,
            x,
            y,
            label: Some("Buy".into()),
            selector: Some("#buy".into()),
            box_x: None,
            box_y: None,
        }),
    )
}

fn click(t: u64, x: i32, y: i32) -> Event {
    mouse(t, MouseKind::Click, x, y)
}

fn mutation(t: u64) -> Event {
    ev(
        t,
        EventData::Mutation(Mutation {
            removes: vec![3],
            ..Mutation::default()
        }),
    )
}

fn error(t: u64) -> Event {
    ev(
        t,
        EventData::PageError(PageError {
            kind: PageErrorKind::Uncaught,
            message: "boom".into(),
            source: None,
            stack: None,
        }),
    )
}

fn meta(t: u64, href: &str) -> Event {
    ev(
        t,
        EventData::Meta(Meta {
            href: href.into(),
            title: String::new(),
            width: 800,
            height: 600,
            user_agent: String::new(),
            referrer: None,
            visitor_id: None,
            new_visitor: None,
        }),
    )
}

fn moves(t: u64, ps: &[(i32, i32, u32)]) -> Event {
    ev(
        t,
        EventData::MouseMove(
            ps.iter()
                .map(|&(x, y, dt)| MousePosition { x, y, dt })
                .collect(),
        ),
    )
}

/// Runs `events` (each click with `dead_ok`), then ticks at `end`.
fn run(events: &[Event], dead_ok: bool, end: u64) -> Vec<Signal> {
    let mut d = Detector::new();
    let mut out = Vec::new();
    for e in events {
        d.observe(e, dead_ok, &mut out);
    }
    d.tick(end, &mut out);
    signals(&out)
}

fn signals(out: &[Event]) -> Vec<Signal> {
    out.iter()
        .map(|e| match &e.data {
            EventData::Signal(s) => s.clone(),
            other => panic!("not a signal: {other:?}"),
        })
        .collect()
}

fn kinds(s: &[Signal]) -> Vec<(SignalKind, u64, u32)> {
    s.iter().map(|s| (s.kind, s.since, s.count)).collect()
}

#[test]
fn rage_clicks_are_three_near_clicks_within_a_second_one_per_burst() {
    use SignalKind::RageClick;
    let three = [click(0, 10, 10), click(300, 20, 12), click(900, 5, 30)];
    let s = run(&three, false, 5_000);
    assert_eq!(kinds(&s), [(RageClick, 0, 3)]);
    assert_eq!(s[0].label.as_deref(), Some("Buy"));
    assert_eq!((s[0].x, s[0].y, s[0].id), (10, 10, 7));
    // A fourth in the same second joins the burst: still one signal.
    let four = [
        click(0, 10, 10),
        click(200, 10, 10),
        click(400, 10, 10),
        click(600, 10, 10),
    ];
    assert_eq!(kinds(&run(&four, false, 5_000)), [(RageClick, 0, 4)]);
    // Two clicks are no burst; a third after the second is over 1 s from
    // the first; a third 31 px away (diagonally 30 px is in).
    assert!(run(&three[..2], false, 5_000).is_empty());
    assert!(run(
        &[click(0, 0, 0), click(500, 0, 0), click(1_001, 0, 0)],
        false,
        5_000
    )
    .is_empty());
    assert!(run(
        &[click(0, 0, 0), click(100, 0, 0), click(200, 31, 0)],
        false,
        5_000
    )
    .is_empty());
    assert_eq!(
        run(
            &[click(0, 0, 0), click(100, 18, 24), click(200, 0, 0)],
            false,
            5_000
        )
        .len(),
        1
    );
    // Two bursts, two signals.
    let two = [
        click(0, 0, 0),
        click(100, 0, 0),
        click(200, 0, 0),
        click(1_500, 0, 0),
        click(1_600, 0, 0),
        click(1_700, 0, 0),
    ];
    assert_eq!(
        kinds(&run(&two, false, 9_000)),
        [(RageClick, 0, 3), (RageClick, 1_500, 3)]
    );
}

#[test]
fn a_burst_is_reported_when_it_is_over_not_before() {
    let mut d = Detector::new();
    let mut out = Vec::new();
    for e in [click(0, 0, 0), click(100, 0, 0), click(200, 0, 0)] {
        d.observe(&e, false, &mut out);
    }
    d.tick(1_000, &mut out);
    assert!(out.is_empty(), "the window is still open at 1000 ms");
    assert!(d.waiting());
    d.tick(1_001, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].t, 1_000, "stamped when the window closed");
    // The page hidden ends a burst at once.
    let mut d = Detector::new();
    let mut out = Vec::new();
    for e in [click(0, 0, 0), click(100, 0, 0), click(200, 0, 0)] {
        d.observe(&e, false, &mut out);
    }
    d.observe(
        &ev(300, EventData::Visibility(Visibility { visible: false })),
        false,
        &mut out,
    );
    assert_eq!(kinds(&signals(&out[..1])), [(SignalKind::RageClick, 0, 3)]);
}

#[test]
fn dead_clicks_are_clicks_the_page_does_not_answer_for_a_second() {
    use SignalKind::DeadClick;
    let s = run(&[click(100, 1, 2)], true, 1_101);
    assert_eq!(kinds(&s), [(DeadClick, 100, 1)]);
    // Not decided before the second is over.
    assert!(run(&[click(100, 1, 2)], true, 1_100).is_empty());
    // A DOM change within the second answers it, one after does not.
    assert!(run(&[click(100, 1, 2), mutation(1_100)], true, 9_000).is_empty());
    assert_eq!(
        run(&[click(100, 1, 2), mutation(1_101)], true, 9_000).len(),
        1
    );
    // A field into which the user clicked, or plain text: never dead.
    assert!(run(&[click(100, 1, 2)], false, 9_000).is_empty());
    // The page answered on the press (a menu opening on mousedown).
    let pressed = [
        mouse(50, MouseKind::Down, 1, 2),
        mutation(60),
        click(100, 1, 2),
    ];
    assert!(run(&pressed, true, 9_000).is_empty());
    // A change before the press does not answer the click.
    let before = [
        mutation(10),
        mouse(50, MouseKind::Down, 1, 2),
        click(100, 1, 2),
    ];
    assert_eq!(run(&before, true, 9_000).len(), 1);
    // Scroll, field change, navigation, the page hidden: all answers.
    for answer in [
        ev(
            500,
            EventData::Scroll(Scroll {
                id: 1,
                x: 0,
                y: 9,
                depth: None,
            }),
        ),
        ev(
            500,
            EventData::Input(Input {
                id: 2,
                value: None,
                checked: Some(true),
                label: None,
                selector: None,
            }),
        ),
        meta(500, "https://a.test/next"),
        ev(500, EventData::Visibility(Visibility { visible: false })),
        ev(
            500,
            EventData::Viewport(Viewport {
                width: 1,
                height: 2,
            }),
        ),
    ] {
        assert!(
            run(&[click(100, 1, 2), answer.clone()], true, 9_000).is_empty(),
            "{answer:?}"
        );
    }
    // A dialog (no event of its own) answers it too.
    let mut d = Detector::new();
    let mut out = Vec::new();
    d.observe(&click(100, 1, 2), true, &mut out);
    d.changed(400, &mut out);
    d.tick(5_000, &mut out);
    assert!(out.is_empty());
    // Focus, keys, network, console, custom events are no answer.
    let focus = ev(
        300,
        EventData::Focus(Focus {
            id: 7,
            focused: true,
        }),
    );
    assert_eq!(run(&[click(100, 1, 2), focus], true, 9_000).len(), 1);
}

#[test]
fn a_dead_click_is_stamped_when_its_second_is_over_even_if_time_passes_through_events() {
    let mut d = Detector::new();
    let mut out = Vec::new();
    d.observe(&click(100, 1, 2), true, &mut out);
    d.observe(&moves(1_500, &[(5, 5, 0)]), true, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].t, 1_100);
}

#[test]
fn error_clicks_are_clicks_an_uncaught_error_follows_within_a_second() {
    use SignalKind::ErrorClick;
    let s = run(
        &[click(100, 1, 2), error(1_099), error(1_100)],
        false,
        9_000,
    );
    assert_eq!(kinds(&s), [(ErrorClick, 100, 1)]);
    assert!(run(&[click(100, 1, 2), error(1_101)], false, 9_000).is_empty());
    assert!(run(&[error(50), click(100, 1, 2)], false, 9_000).is_empty());
    // Only the click the error follows, the last one.
    let s = run(
        &[click(100, 1, 2), click(300, 90, 2), error(400)],
        false,
        9_000,
    );
    assert_eq!(kinds(&s), [(ErrorClick, 300, 1)]);
    // A console error is not an uncaught error.
    let console = ev(
        200,
        EventData::Console(Console {
            level: ConsoleLevel::Error,
            text: "x".into(),
        }),
    );
    assert!(run(&[click(100, 1, 2), console], false, 9_000).is_empty());
}

/// A horizontal zigzag: `legs` legs of `amp` px, `ms` apart per sample,
/// `per_leg` samples per leg.
fn zigzag(t0: u64, legs: usize, amp: i32, per_leg: usize, ms: u32) -> Event {
    let mut ps = Vec::new();
    let mut x = 100;
    let mut dt = 0;
    for leg in 0..legs {
        let dir = if leg % 2 == 0 { 1 } else { -1 };
        for _ in 0..per_leg {
            x += dir * amp / per_leg as i32;
            ps.push((x, 300, dt));
            dt += ms;
        }
    }
    moves(t0, &ps)
}

#[test]
fn a_thrashed_cursor_is_five_reversals_within_two_seconds() {
    use SignalKind::ThrashedCursor;
    // Six legs of 120 px, 3 samples of 50 ms each: 5 reversals in 900 ms.
    let s = run(&[zigzag(1_000, 6, 120, 3, 50)], false, 20_000);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].kind, ThrashedCursor);
    assert_eq!(s[0].count, 5);
    assert!(s[0].since > 1_000 && s[0].since < 1_300, "{s:?}");
    // A longer thrash is still one signal, counting every reversal.
    let s = run(&[zigzag(1_000, 12, 120, 3, 50)], false, 20_000);
    assert_eq!(kinds(&s), [(ThrashedCursor, s[0].since, 11)]);
    // Four reversals are not enough; neither are wobbles under 30 px, nor
    // the same zigzag spread over six seconds.
    assert!(run(&[zigzag(1_000, 5, 120, 3, 50)], false, 20_000).is_empty());
    assert!(run(&[zigzag(1_000, 12, 25, 3, 50)], false, 20_000).is_empty());
    assert!(run(&[zigzag(1_000, 6, 120, 3, 400)], false, 20_000).is_empty());
    // A straight move, and a move with one overshoot, are not thrashing.
    let line: Vec<_> = (0..40).map(|i| (i * 20, i * 5, i as u32 * 50)).collect();
    assert!(run(&[moves(0, &line)], false, 20_000).is_empty());
    let overshoot = [
        (0, 0, 0),
        (300, 0, 50),
        (600, 0, 100),
        (540, 0, 150),
        (550, 0, 200),
    ];
    assert!(run(&[moves(0, &overshoot)], false, 20_000).is_empty());
}

#[test]
fn a_thrash_ends_after_two_quiet_seconds() {
    let mut d = Detector::new();
    let mut out = Vec::new();
    d.observe(&zigzag(1_000, 6, 120, 3, 50), false, &mut out);
    assert!(out.is_empty());
    d.tick(2_000, &mut out);
    assert!(out.is_empty(), "not over yet");
    d.tick(5_000, &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn u_turns_are_a_page_left_within_seven_seconds_for_the_one_before() {
    use SignalKind::UTurn;
    let s = run(
        &[
            meta(0, "https://a.test/"),
            meta(10_000, "https://a.test/b"),
            meta(13_000, "https://a.test/#top"),
        ],
        false,
        30_000,
    );
    assert_eq!(kinds(&s), [(UTurn, 10_000, 3_000)]);
    assert_eq!(s[0].label.as_deref(), Some("https://a.test/b"));
    // B shown 7 s or more; A, B, C; the same page again is no new page.
    assert!(run(
        &[
            meta(0, "https://a/"),
            meta(1_000, "https://b/"),
            meta(8_000, "https://a/")
        ],
        false,
        30_000
    )
    .is_empty());
    assert!(run(
        &[
            meta(0, "https://a/"),
            meta(1_000, "https://b/"),
            meta(2_000, "https://c/")
        ],
        false,
        30_000
    )
    .is_empty());
    assert!(run(
        &[
            meta(0, "https://a/"),
            meta(1_000, "https://a/"),
            meta(2_000, "https://a/")
        ],
        false,
        30_000
    )
    .is_empty());
    // The pages before this recorder: a new page load continues the session.
    let mut d = Detector::new();
    d.previous_pages([("https://x/", 1), ("https://a/", 5), ("https://b/", 1_000)]);
    let mut out = Vec::new();
    d.observe(&meta(2_500, "https://a/"), false, &mut out);
    assert_eq!(kinds(&signals(&out)), [(UTurn, 1_000, 1_500)]);
}

fn any_event() -> impl Strategy<Value = (u64, u8, i32, i32, bool)> {
    (0u64..400, 0u8..9, -50i32..50, -50i32..50, any::<bool>())
}

proptest! {
    /// Whatever the events: signals never go back in time (nor before an
    /// event already seen), begin no later than they are reported, and a
    /// rage burst has at least three clicks.
    #[test]
    fn signals_are_in_order_and_well_formed(steps in prop::collection::vec(any_event(), 0..200)) {
        let mut d = Detector::new();
        let mut out = Vec::new();
        let mut t = 0u64;
        let mut last = 0u64;
        for (dt, kind, x, y, ok) in steps {
            t += dt;
            let e = match kind {
                0..=2 => click(t, x, y),
                3 => mouse(t, MouseKind::Down, x, y),
                4 => mutation(t),
                5 => error(t),
                6 => moves(t, &[(x * 4, y * 4, 0), (-x * 4, -y * 4, 60), (x * 4, y * 4, 120)]),
                7 => meta(t, if x > 0 { "https://a/" } else { "https://b/" }),
                _ => {
                    let n = out.len();
                    d.tick(t, &mut out);
                    for s in &out[n..] {
                        prop_assert!(s.t >= last && s.t <= t);
                        last = s.t;
                    }
                    continue;
                }
            };
            let n = out.len();
            d.observe(&e, ok, &mut out);
            for s in &out[n..] {
                prop_assert!(s.t >= last, "{:?} after {}", s, last);
                prop_assert!(s.t <= e.t.max(last));
                last = s.t;
            }
            last = last.max(e.t);
        }
        d.tick(u64::MAX / 2, &mut out);
        for s in signals(&out) {
            if s.kind == SignalKind::RageClick {
                prop_assert!(s.count >= RAGE_CLICKS);
            }
        }
        for e in &out {
            let EventData::Signal(s) = &e.data else { unreachable!() };
            prop_assert!(s.since <= e.t);
        }
    }
}
