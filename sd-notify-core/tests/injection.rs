//! Injection property test: arbitrary values (biased toward line breaks, NUL, backslashes,
//! `=` and assignments worth injecting) in every value-carrying state. Whatever the crate
//! accepts must read back, as systemd 252 splits it, as exactly the intended assignments;
//! whatever it rejects must be rejected for the rule an independent oracle predicts.

mod common;

use common::{Rng, recv};
use sd_notify_core::{Error, MAX_MESSAGE_LEN, Message, Notifier, NotifyState, Receiver, sanitize_status};

const ITERATIONS: usize = 5000;

/// Pieces an attacker would like to smuggle in, and plain filler.
const TOKENS: &[&str] = &[
    "\n",
    "\r",
    "\r\n",
    "\n\n",
    "\0",
    "\\",
    "\\\n",
    "=",
    "READY=1",
    "\nREADY=1",
    "WATCHDOG=trigger",
    "\nWATCHDOG=trigger",
    "\rMAINPID=1",
    "BARRIER=1",
    "STATUS=",
    "X_",
    " ",
    ":",
    ".",
    "-",
    "_",
    "\t",
    "\x7f",
    "é",
    "✓",
    "😀",
    "\u{2028}",
    "\u{85}",
    "ß",
];

fn token(rng: &mut Rng) -> &'static str {
    TOKENS[rng.below(TOKENS.len())]
}

fn gen_char(rng: &mut Rng) -> char {
    match rng.below(10) {
        0..=4 => (b'a' + rng.below(26) as u8) as char,
        5 => (b'A' + rng.below(26) as u8) as char,
        6 => (b'0' + rng.below(10) as u8) as char,
        7 => (b' ' + rng.below(95) as u8) as char, // printable ASCII
        8 => char::from_u32(rng.below(0x80) as u32).unwrap(), // any ASCII, controls included
        _ => loop {
            if let Some(c) = char::from_u32(rng.below(0x11_0000) as u32) {
                break c;
            }
        },
    }
}

/// Free text: tokens and characters mixed, empty now and then.
fn gen_text(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.below(24) {
        if rng.chance(25) {
            s.push_str(token(rng));
        } else {
            s.push(gen_char(rng));
        }
    }
    s
}

/// Something shaped like a dotted error name, now and then broken.
fn gen_error_name(rng: &mut Rng) -> String {
    let mut s = String::new();
    let elements = rng.below(5);
    for i in 0..elements {
        if i > 0 {
            s.push('.');
        }
        for _ in 0..rng.below(8) {
            s.push(match rng.below(12) {
                0 => (b'0' + rng.below(10) as u8) as char,
                1 => '_',
                2 => (b'A' + rng.below(26) as u8) as char,
                _ => (b'a' + rng.below(26) as u8) as char,
            });
        }
    }
    if rng.chance(35) {
        let at = rng.below(s.len() + 1);
        s.insert_str(at, token(rng));
    }
    if rng.chance(2) {
        s = "a.".to_owned() + &"b".repeat(250 + rng.below(10));
    }
    s
}

/// Something shaped like an FDNAME, now and then broken.
fn gen_fdname(rng: &mut Rng) -> String {
    let mut s: String = (0..rng.below(12)).map(|_| (b' ' + rng.below(95) as u8) as char).collect();
    if rng.chance(30) {
        let at = rng.below(s.len() + 1);
        s.insert_str(at, token(rng));
    }
    if rng.chance(3) {
        s = "f".repeat(250 + rng.below(10));
    }
    s
}

/// A key: `prefix` then key characters, now and then broken.
fn gen_key(rng: &mut Rng, prefix: &str) -> String {
    let mut s = prefix.to_owned();
    for _ in 0..rng.below(8) {
        s.push(match rng.below(20) {
            0 => 'a',
            1 => '=',
            2 => '\n',
            3 => '-',
            4 => '_',
            5..=7 => (b'0' + rng.below(10) as u8) as char,
            _ => (b'A' + rng.below(26) as u8) as char,
        });
    }
    s
}

// ---- the oracle: the protocol's rules written out independently of the crate ----

fn text_ok(v: &str) -> bool {
    !v.contains(['\n', '\r', '\0', '\\'])
}

fn fdname_ok(v: &str) -> bool {
    (1..=255).contains(&v.len()) && v.chars().all(|c| (' '..='~').contains(&c) && c != ':' && c != '\\')
}

fn error_name_ok(v: &str, dash: bool) -> bool {
    let chars_ok = v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || (dash && c == '-'));
    let elements: Vec<&str> = v.split('.').collect();
    (1..=255).contains(&v.len())
        && chars_ok
        && elements.len() >= 2
        && elements.iter().all(|e| !e.is_empty() && !e.starts_with(|c: char| c.is_ascii_digit()))
}

fn key_chars_ok(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

thread_local! {
    /// Every accepted message is read back through a real receiver, as the manager reads it.
    static READ_BACK: (Receiver, Notifier) = common::pair();
}

/// The lines of `msg` as the manager (systemd ≥ 252) reads them, through a real socket.
fn lines_as_received(msg: &Message) -> Result<Vec<String>, sd_notify_core::DropReason> {
    READ_BACK.with(|(receiver, notifier)| {
        notifier.send(msg).unwrap();
        let n = recv(receiver);
        assert_eq!(n.bytes(), msg.as_bytes());
        n.lines().map(<[String]>::to_vec)
    })
}

/// Checks one candidate: built through `build`, it must be accepted exactly when `valid`, and
/// when accepted read back as `intended`. Returns the message when accepted.
fn check(intended: &[NotifyState<'_>], valid: bool, built: Result<Message, Error>) -> Option<Message> {
    match built {
        Err(e) => {
            assert!(!valid, "rejected a valid message {intended:?}: {e:?}");
            assert!(
                matches!(e, Error::InvalidValue { .. } | Error::InvalidKey { .. }),
                "{intended:?}: unexpected error {e:?}"
            );
            None
        }
        Ok(msg) => {
            assert!(valid, "accepted an invalid message {intended:?}: {msg:?}");
            let bytes = msg.as_bytes();
            assert!(bytes.len() <= MAX_MESSAGE_LEN);
            let lines = lines_as_received(&msg)
                .unwrap_or_else(|e| panic!("manager would drop {msg:?} ({e:?}) built from {intended:?}"));
            assert_eq!(lines.len(), intended.len(), "{intended:?} became lines {lines:?}");
            let parsed: Vec<NotifyState<'_>> = lines
                .iter()
                .map(|l| NotifyState::parse(l).unwrap_or_else(|| panic!("line without '=': {l:?}")))
                .collect();
            assert_eq!(parsed, intended, "{msg:?}");
            Some(msg)
        }
    }
}

/// Surrounding states that a successful injection would imitate; distinct keys from the
/// state under test.
fn surround<'a>(rng: &mut Rng, middle: NotifyState<'a>) -> Vec<NotifyState<'a>> {
    let mut v = Vec::new();
    if rng.chance(40) {
        v.push(*rng.pick(&[NotifyState::Ready, NotifyState::Stopping, NotifyState::Reloading]));
    }
    v.push(middle);
    if rng.chance(40) {
        v.push(*rng.pick(&[
            NotifyState::MainPid(4321),
            NotifyState::ExtendTimeoutUsec(7),
            NotifyState::Errno(5),
        ]));
    }
    v
}

/// Sends some accepted messages to a real receiver and checks what arrives.
struct Sampler {
    receivers: Vec<(Receiver, Notifier)>,
    seen: usize,
    sent: usize,
}

impl Sampler {
    fn new() -> Self {
        Sampler { receivers: common::both_kinds(), seen: 0, sent: 0 }
    }

    fn offer(&mut self, msg: &Message, intended: &[NotifyState<'_>]) {
        self.seen += 1;
        if self.seen % 37 != 0 {
            return;
        }
        let (receiver, notifier) = &self.receivers[self.sent % 2];
        self.sent += 1;
        notifier.send(msg).unwrap();
        let n = recv(receiver);
        assert_eq!(n.bytes(), msg.as_bytes());
        assert_eq!(n.states(), intended, "{n:?}");
        assert!(!n.is_barrier());
    }
}

/// Runs `ITERATIONS` candidates of one kind; asserts both outcomes were exercised.
fn run(seed: u64, what: &str, mut one: impl FnMut(&mut Rng, &mut Sampler) -> bool) {
    let mut rng = Rng::new(seed);
    let mut sampler = Sampler::new();
    let mut accepted = 0;
    for _ in 0..ITERATIONS {
        if one(&mut rng, &mut sampler) {
            accepted += 1;
        }
    }
    let rejected = ITERATIONS - accepted;
    eprintln!("{what}: {accepted} accepted, {rejected} rejected, {} sent to a receiver", sampler.sent);
    assert!(accepted >= ITERATIONS / 10, "{what}: generator too hostile ({accepted} accepted)");
    assert!(rejected >= ITERATIONS / 10, "{what}: generator too tame ({rejected} rejected)");
    assert!(sampler.sent >= 10, "{what}: too few samples sent");
}

fn try_one(intended: &[NotifyState<'_>], valid: bool, sampler: &mut Sampler) -> bool {
    match check(intended, valid, Message::from_states(intended)) {
        Some(msg) => {
            sampler.offer(&msg, intended);
            true
        }
        None => false,
    }
}

#[test]
fn status_values_never_inject() {
    run(1, "STATUS", |rng, sampler| {
        let v = gen_text(rng);
        let intended = surround(rng, NotifyState::Status(&v));
        try_one(&intended, text_ok(&v), sampler)
    });
}

#[test]
fn extension_values_and_keys_never_inject() {
    run(2, "X_", |rng, sampler| {
        let v = gen_text(rng);
        let key = if rng.chance(80) { gen_key(rng, "X_K") } else { gen_key(rng, "X") };
        let valid = text_ok(&v) && key.starts_with("X_") && key.len() >= 3 && key_chars_ok(&key);
        let intended = surround(rng, NotifyState::Extension { key: &key, value: &v });
        try_one(&intended, valid, sampler)
    });
}

#[test]
fn other_values_and_keys_never_inject() {
    run(3, "OTHER", |rng, sampler| {
        let v = gen_text(rng);
        // "Z…" is no key the crate models, so it reads back as `Other`.
        let key = gen_key(rng, "Z");
        let valid = text_ok(&v) && key_chars_ok(&key);
        let intended = surround(rng, NotifyState::Other { key: &key, value: &v });
        try_one(&intended, valid, sampler)
    });
}

#[test]
fn bus_error_names_never_inject() {
    run(4, "BUSERROR", |rng, sampler| {
        let v = gen_error_name(rng);
        let intended = surround(rng, NotifyState::BusError(&v));
        try_one(&intended, error_name_ok(&v, false), sampler)
    });
}

#[test]
fn varlink_error_names_never_inject() {
    run(5, "VARLINKERROR", |rng, sampler| {
        let mut v = gen_error_name(rng);
        if rng.chance(20) {
            let at = rng.below(v.len() + 1);
            if v.is_char_boundary(at) {
                v.insert(at, '-');
            }
        }
        let intended = surround(rng, NotifyState::VarlinkError(&v));
        try_one(&intended, error_name_ok(&v, true), sampler)
    });
}

#[test]
fn fdnames_never_inject() {
    run(6, "FDNAME", |rng, sampler| {
        let v = gen_fdname(rng);
        let intended = surround(rng, NotifyState::FdName(&v));
        try_one(&intended, fdname_ok(&v), sampler)
    });
}

#[test]
fn push_status_fmt_never_injects_whatever_the_pieces() {
    run(7, "push_status_fmt", |rng, sampler| {
        let v = gen_text(rng);
        // Split into three pieces at character boundaries, formatted separately.
        let cuts: Vec<usize> = {
            let mut c = vec![rng.below(v.len() + 1), rng.below(v.len() + 1)];
            c.sort_unstable();
            c.into_iter().map(|mut i| {
                while !v.is_char_boundary(i) {
                    i -= 1;
                }
                i
            })
        }
        .collect();
        let (a, rest) = v.split_at(cuts[0]);
        let (b, c) = rest.split_at(cuts[1] - cuts[0]);
        let n = rng.below(1000);

        let expected_text = format!("{a}{n}{b}{c}");
        let with_ready = rng.chance(50);
        let mut intended = Vec::new();
        if with_ready {
            intended.push(NotifyState::Ready);
        }
        intended.push(NotifyState::Status(&expected_text));

        let mut msg = Message::new();
        if with_ready {
            msg.push(NotifyState::Ready).unwrap();
        }
        let before = msg.as_bytes().to_vec();
        let built = match msg.push_status_fmt(format_args!("{a}{n}{b}{}", c)) {
            Ok(_) => Ok(msg),
            Err(e) => {
                assert_eq!(msg.as_bytes(), before, "a failed push_status_fmt changed the message");
                Err(e)
            }
        };
        match check(&intended, text_ok(&expected_text), built) {
            Some(msg) => {
                sampler.offer(&msg, &intended);
                true
            }
            None => false,
        }
    });
}

#[test]
fn sanitized_text_is_always_accepted_as_one_line() {
    let mut rng = Rng::new(8);
    let mut sampler = Sampler::new();
    for _ in 0..ITERATIONS {
        let raw = gen_text(&mut rng);
        let clean = sanitize_status(&raw);
        assert_eq!(clean.chars().count(), raw.chars().count(), "one character for one");
        if text_ok(&raw) && !raw.chars().any(char::is_control) {
            assert_eq!(clean, raw, "safe text is kept as it is");
        }
        let intended = [NotifyState::Status(&clean)];
        let msg = check(&intended, true, Message::from_states(&intended)).unwrap();
        sampler.offer(&msg, &intended);
    }
    assert!(sampler.sent >= 10);
}

/// The same property through the wire, for the assignments most worth injecting: a message
/// whose value imitates them must never make the receiver see them.
#[test]
fn injected_assignments_never_reach_the_receiver() {
    let (receiver, notifier) = common::pair();
    let mut rng = Rng::new(9);
    let mut sent = 0;
    for _ in 0..ITERATIONS {
        let v = gen_text(&mut rng);
        if notifier.notify(&[NotifyState::Status(&v)]).is_ok() {
            sent += 1;
            let n = recv(&receiver);
            assert_eq!(n.states(), [NotifyState::Status(&v)], "{n:?}");
        }
    }
    common::assert_nothing_queued(&receiver);
    assert!(sent >= ITERATIONS / 10, "{sent}");
}
