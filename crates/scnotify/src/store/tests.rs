use super::*;
use crate::store_messages::keylist::encode_key_list;

/// A sink that records sends and fails the ones its policy says.
struct Recorder {
    sent: Vec<(SessionId, u32)>,
    fail_next: usize,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            sent: Vec::new(),
            fail_next: 0,
        }
    }
}

impl WakeupSink<u32> for Recorder {
    fn send_wakeup(&mut self, session: SessionId, port: &u32) -> bool {
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return false;
        }
        self.sent.push((session, *port));
        true
    }
}

fn list(bytes: &[u8]) -> Vec<String> {
    KeyList(bytes)
        .parse()
        .unwrap()
        .into_iter()
        .map(|k| String::from_utf8(k.to_vec()).unwrap())
        .collect()
}

fn kl(keys: &[&str]) -> Vec<u8> {
    encode_key_list(keys, CONFIG_DATA_MAX).unwrap()
}

#[test]
fn sessions_are_distinct_and_teardown_returns_the_port() {
    let mut st: Store<u32> = Store::new();
    let a = st.open_session();
    let b = st.open_session();
    assert_ne!(a, b);
    assert_eq!(st.notify_via_port(a, Some(7), 0), Status::OK);
    assert_eq!(st.close_session(a), Some(7));
    assert!(st.session(a).is_none());
    // Notify routines on a dead session → 2001; data routines don't care about sessions.
    assert_eq!(st.notify_add(a, b"k", false), Status::NO_STORE_SESSION);
    assert_eq!(st.notify_changes(a), Err(Status::NO_STORE_SESSION));
    assert_eq!(st.notify_cancel(a), Status::NO_STORE_SESSION);
    assert_eq!(st.notify_set(a, b"", b""), Status::NO_STORE_SESSION);
    assert_eq!(st.notify_remove(a, b"k", false), Status::NO_STORE_SESSION);
    assert_eq!(st.notify_via_port(a, Some(8), 0), Status::NO_STORE_SESSION);
    assert_eq!(st.session_ids().collect::<Vec<_>>(), [b]);
}

#[test]
fn selftest_set_get_round_trip_and_list() {
    // configd --selftest steps 1 and 5.
    let mut st: Store<u32> = Store::new();
    let mut sink = Recorder::new();
    assert_eq!(st.set(b"selftest:key", b"value", &mut sink), Status::OK);
    assert_eq!(st.get(b"selftest:key"), Ok(&b"value"[..]));
    assert_eq!(st.set(b"selftest:pat42", b"v", &mut sink), Status::OK);
    assert_eq!(
        list(&st.list(b"", false).unwrap()),
        ["selftest:key", "selftest:pat42"]
    );
    assert_eq!(
        list(&st.list(b"selftest:p", false).unwrap()),
        ["selftest:pat42"]
    );
    assert_eq!(
        list(&st.list(b"selftest:pat[0-9]+", true).unwrap()),
        ["selftest:pat42"]
    );
    assert_eq!(
        list(&st.list(b"selftest", true).unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(st.list(b"a(", true), Err(Status::INVALID_ARGUMENT));
    assert!(sink.sent.is_empty(), "no session, no wake-up");
}

#[test]
fn selftest_watch_set_changes_gives_one_record() {
    // Steps 2 and 4: explicit key and regex each give exactly one record of 4 + len bytes.
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    let mut sink = Recorder::new();
    assert_eq!(st.notify_add(s, b"selftest:watched", false), Status::OK);
    st.set(b"selftest:watched", b"1", &mut sink);
    let c = st.notify_changes(s).unwrap();
    assert_eq!(c.len(), 4 + "selftest:watched".len());
    assert_eq!(list(&c), ["selftest:watched"]);

    assert_eq!(st.notify_add(s, b"selftest:pat[0-9]+", true), Status::OK);
    st.set(b"selftest:pat42", b"1", &mut sink);
    st.set(b"selftest:patx", b"1", &mut sink);
    let c = st.notify_changes(s).unwrap();
    assert_eq!(c.len(), 4 + "selftest:pat42".len());
    // Nothing pending afterwards.
    assert_eq!(st.notify_changes(s).unwrap(), b"");
}

#[test]
fn selftest_set_m_get_m_round_trip() {
    let mut st: Store<u32> = Store::new();
    let mut sink = Recorder::new();
    let data = encode_kv_map([("m:a", "1"), ("m:b", "2"), ("n:c", "3")], CONFIG_DATA_MAX).unwrap();
    assert_eq!(st.set_multiple(&data, b"", b"", &mut sink), Status::OK);
    let got = st
        .get_multiple(&kl(&["m:a", "missing"]), &kl(&["n:.*", "m:a"]))
        .unwrap();
    let pairs = KvMap(&got).parse().unwrap();
    assert_eq!(pairs, [(&b"m:a"[..], &b"1"[..]), (b"n:c", b"3")]);
    assert_eq!(
        st.get_multiple(&kl(&[""]), b""),
        Err(Status::INVALID_ARGUMENT)
    );
    assert_eq!(
        st.get_multiple(b"", &kl(&["("])),
        Err(Status::INVALID_ARGUMENT)
    );
    assert_eq!(
        st.get_multiple(&[5, 0, 0, 0, b'x'], b""),
        Err(Status::INVALID_ARGUMENT)
    );
}

#[test]
fn which_writes_notify() {
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    st.notify_add(s, b"k", false);
    let mut sink = Recorder::new();
    let pending = |st: &mut Store<u32>| list(&st.notify_changes(s).unwrap());

    // configadd: only when it creates the key.
    assert_eq!(st.add(b"k", b"1", &mut sink), Status::OK);
    assert_eq!(pending(&mut st), ["k"]);
    assert_eq!(st.add(b"k", b"2", &mut sink), Status::KEY_EXISTS);
    assert!(pending(&mut st).is_empty());
    assert_eq!(st.get(b"k"), Ok(&b"1"[..]));
    // configset: always, even with an identical value.
    assert_eq!(st.set(b"k", b"1", &mut sink), Status::OK);
    assert_eq!(pending(&mut st), ["k"]);
    // configremove: only if the key existed.
    assert_eq!(st.remove(b"k", &mut sink), Status::OK);
    assert_eq!(pending(&mut st), ["k"]);
    assert_eq!(st.remove(b"k", &mut sink), Status::NO_KEY);
    assert!(pending(&mut st).is_empty());
    assert_eq!(st.get(b"k"), Err(Status::NO_KEY));
    // confignotify: always; the key need not exist.
    assert_eq!(st.notify(b"k", &mut sink), Status::OK);
    assert_eq!(pending(&mut st), ["k"]);
    // configset_m: each set, each remove of an existing key, each notify key.
    st.set(b"k", b"x", &mut sink);
    st.notify_changes(s).unwrap();
    let data = encode_kv_map([("k", "y")], CONFIG_DATA_MAX).unwrap();
    st.notify_add(s, b"r", false);
    st.notify_add(s, b"n", false);
    assert_eq!(
        st.set_multiple(&data, &kl(&["k", "r"]), &kl(&["n"]), &mut sink),
        Status::OK
    );
    // "r" did not exist: no notification for it.
    assert_eq!(pending(&mut st), ["k", "n"]);
}

#[test]
fn empty_keys_are_invalid_everywhere() {
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    let mut sink = Recorder::new();
    assert_eq!(st.add(b"", b"", &mut sink), Status::INVALID_ARGUMENT);
    assert_eq!(st.set(b"", b"", &mut sink), Status::INVALID_ARGUMENT);
    assert_eq!(st.remove(b"", &mut sink), Status::INVALID_ARGUMENT);
    assert_eq!(st.notify(b"", &mut sink), Status::INVALID_ARGUMENT);
    assert_eq!(st.get(b""), Err(Status::INVALID_ARGUMENT));
    assert_eq!(st.notify_add(s, b"", false), Status::INVALID_ARGUMENT);
    assert_eq!(st.notify_add(s, b"", true), Status::INVALID_ARGUMENT);
    assert_eq!(st.notify_remove(s, b"", false), Status::INVALID_ARGUMENT);
    // configset_m validates everything first: nothing is stored.
    let data = encode_kv_map([("ok", "1")], CONFIG_DATA_MAX).unwrap();
    assert_eq!(
        st.set_multiple(&data, &kl(&[""]), b"", &mut sink),
        Status::INVALID_ARGUMENT
    );
    assert_eq!(st.get(b"ok"), Err(Status::NO_KEY));
    assert_eq!(
        st.set_multiple(&[1, 0, 0], b"", b"", &mut sink),
        Status::INVALID_ARGUMENT
    );
    assert!(st.is_empty());
}

#[test]
fn notifyadd_and_remove_rules() {
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    assert_eq!(st.notify_add(s, b"k", false), Status::OK);
    assert_eq!(
        st.notify_add(s, b"k", false),
        Status::OK,
        "already watched is OK (not 1005)"
    );
    assert_eq!(st.notify_add(s, b"p[0-9]", true), Status::OK);
    assert_eq!(st.notify_add(s, b"p[0-9]", true), Status::OK);
    assert_eq!(st.session(s).unwrap().patterns().count(), 1);
    assert_eq!(st.notify_add(s, b"p[", true), Status::INVALID_ARGUMENT);
    // Explicit and pattern namespaces are separate.
    assert_eq!(st.notify_remove(s, b"k", true), Status::NO_KEY);
    assert_eq!(st.notify_remove(s, b"p[0-9]", false), Status::NO_KEY);
    assert_eq!(st.notify_remove(s, b"k", false), Status::OK);
    assert_eq!(st.notify_remove(s, b"k", false), Status::NO_KEY);
    // Pattern identity is the raw bytes.
    assert_eq!(st.notify_remove(s, b"^p[0-9]$", true), Status::NO_KEY);
    assert_eq!(st.notify_remove(s, b"p[0-9]", true), Status::OK);
    let sess = st.session(s).unwrap();
    assert_eq!(sess.keys().count() + sess.patterns().count(), 0);
}

#[test]
fn notifyset_clears_then_installs_partially_on_failure() {
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    let mut sink = Recorder::new();
    st.notify_add(s, b"old", false);
    st.notify(b"old", &mut sink); // something pending
    assert_eq!(st.notify_via_port(s, Some(3), 0), Status::OK);

    // Keys, then a bad pattern after a good one.
    let st_code = st.notify_set(s, &kl(&["a", "b"]), &kl(&["x[0-9]", "bad(", "never"]));
    assert_eq!(st_code, Status::INVALID_ARGUMENT);
    let sess = st.session(s).unwrap();
    assert_eq!(sess.keys().collect::<Vec<_>>(), [&b"a"[..], b"b"]);
    assert_eq!(sess.patterns().collect::<Vec<_>>(), [&b"x[0-9]"[..]]);
    // Pending, notify_owed and the port are untouched.
    assert_eq!(sess.pending(), [b"old".to_vec()]);
    assert_eq!(sess.notify_port(), Some(&3));

    // An empty key in the key list fails before any pattern is added.
    assert_eq!(
        st.notify_set(s, &kl(&["c", ""]), &kl(&["y"])),
        Status::INVALID_ARGUMENT
    );
    let sess = st.session(s).unwrap();
    assert_eq!(sess.keys().collect::<Vec<_>>(), [&b"c"[..]]);
    assert_eq!(sess.patterns().count(), 0);

    // A truncated list changes nothing.
    assert_eq!(
        st.notify_set(s, &[9, 0, 0, 0], b""),
        Status::INVALID_ARGUMENT
    );
    assert_eq!(
        st.session(s).unwrap().keys().collect::<Vec<_>>(),
        [&b"c"[..]]
    );

    // NULL lists → empty set.
    assert_eq!(st.notify_set(s, b"", b""), Status::OK);
    assert_eq!(st.session(s).unwrap().keys().count(), 0);
}

#[test]
fn changes_dedup_in_first_change_order_across_keys_and_patterns() {
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    let mut sink = Recorder::new();
    st.notify_set(s, &kl(&["b", "a"]), &kl(&["p:.*"]));
    for k in ["b", "p:1", "a", "b", "zzz", "p:1", "p:2", "a"] {
        st.notify(k.as_bytes(), &mut sink);
    }
    assert_eq!(
        list(&st.notify_changes(s).unwrap()),
        ["b", "p:1", "a", "p:2"]
    );
    // A key watched both explicitly and by pattern is recorded once.
    st.notify_add(s, b"p:3", false);
    st.notify(b"p:3", &mut sink);
    assert_eq!(list(&st.notify_changes(s).unwrap()), ["p:3"]);
}

#[test]
fn one_wakeup_per_empty_to_nonempty_transition() {
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    st.notify_add(s, b"k", false);
    st.notify_add(s, b"j", false);
    st.notify_via_port(s, Some(42), 0);
    let mut sink = Recorder::new();
    for _ in 0..5 {
        st.notify(b"k", &mut sink);
        st.notify(b"j", &mut sink);
    }
    assert_eq!(sink.sent, [(s, 42)]);
    st.notify_changes(s).unwrap();
    st.notify(b"j", &mut sink);
    assert_eq!(sink.sent.len(), 2);
}

#[test]
fn failed_send_is_retried_on_the_next_change_even_a_duplicate() {
    // #259 / PR #260: a dropped send must not strand the client.
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    st.notify_add(s, b"k", false);
    st.notify_via_port(s, Some(1), 0);
    let mut sink = Recorder::new();
    sink.fail_next = 1;
    st.notify(b"k", &mut sink);
    assert!(sink.sent.is_empty());
    assert!(st.session(s).unwrap().notify_owed());
    // Duplicate change of an already-pending key retries the send.
    st.notify(b"k", &mut sink);
    assert_eq!(sink.sent, [(s, 1)]);
    assert!(!st.session(s).unwrap().notify_owed());
    // Once paid, further changes send nothing until the list is drained.
    st.notify(b"k", &mut sink);
    assert_eq!(sink.sent.len(), 1);
}

#[test]
fn changes_without_a_port_are_owed_and_viaport_sends_nothing() {
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    st.notify_add(s, b"k", false);
    let mut sink = Recorder::new();
    st.notify(b"k", &mut sink);
    assert!(st.session(s).unwrap().notify_owed());
    // NBU notifyviaport does not push pending changes.
    assert_eq!(st.notify_via_port(s, Some(9), 0), Status::OK);
    assert!(sink.sent.is_empty());
    // The next change pays the debt.
    st.notify(b"k", &mut sink);
    assert_eq!(sink.sent, [(s, 9)]);
    // notifychanges clears notify_owed too.
    let t = st.open_session();
    st.notify_add(t, b"q", false);
    st.notify(b"q", &mut sink);
    assert!(st.session(t).unwrap().notify_owed());
    st.notify_changes(t).unwrap();
    assert!(!st.session(t).unwrap().notify_owed());
}

#[test]
fn notifyviaport_argument_rules() {
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    assert_eq!(st.notify_via_port(s, Some(1), 5), Status::INVALID_ARGUMENT);
    assert_eq!(st.session(s).unwrap().notify_port(), None);
    assert_eq!(st.notify_via_port(s, None, 0), Status::INVALID_ARGUMENT);
    assert_eq!(st.notify_via_port(s, Some(1), 0), Status::OK);
    // Replaces the earlier port.
    assert_eq!(st.notify_via_port(s, Some(2), 0), Status::OK);
    assert_eq!(st.session(s).unwrap().notify_port(), Some(&2));
    // msgid is checked before the session.
    assert_eq!(
        st.notify_via_port(SessionId(999), Some(1), 1),
        Status::INVALID_ARGUMENT
    );
}

#[test]
fn notifycancel_keeps_watches_and_pending() {
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    let mut sink = Recorder::new();
    st.notify_add(s, b"k", false);
    st.notify_via_port(s, Some(1), 0);
    assert_eq!(st.notify_cancel(s), Status::OK);
    assert_eq!(st.session(s).unwrap().notify_port(), None);
    st.notify(b"k", &mut sink);
    assert!(sink.sent.is_empty());
    st.notify_via_port(s, Some(2), 0);
    assert_eq!(list(&st.notify_changes(s).unwrap()), ["k"]);
}

#[test]
fn notifychanges_overflow_fails_and_keeps_the_list() {
    let mut st: Store<u32> = Store::new();
    let s = st.open_session();
    st.notify_add(s, b"k.*", true);
    let mut sink = Recorder::new();
    // 3 keys of 3000 bytes: 9012 > 8192.
    let keys: Vec<Vec<u8>> = (0..3)
        .map(|i| format!("k{i}{}", "x".repeat(2998)).into_bytes())
        .collect();
    for k in &keys {
        st.notify(k, &mut sink);
    }
    assert_eq!(st.notify_changes(s), Err(Status::FAILED));
    assert_eq!(st.session(s).unwrap().pending().len(), 3);
    assert_eq!(st.notify_changes(s), Err(Status::FAILED), "fails forever");
}

#[test]
fn list_overflow_fails() {
    let mut st: Store<u32> = Store::new();
    let mut sink = Recorder::new();
    for i in 0..3 {
        st.set(
            format!("k{i}{}", "x".repeat(3000)).as_bytes(),
            b"",
            &mut sink,
        );
    }
    assert_eq!(st.list(b"", false), Err(Status::FAILED));
}

#[test]
fn patterns_match_at_change_time_only() {
    // A pattern watch does not report keys that merely exist; only changes.
    let mut st: Store<u32> = Store::new();
    let mut sink = Recorder::new();
    st.set(b"patterntest:1", b"", &mut sink);
    let s = st.open_session();
    st.notify_add(s, b"patterntest:[0-9]+", true);
    assert!(st.notify_changes(s).unwrap().is_empty());
    st.set(b"patterntest:nodigits", b"", &mut sink);
    assert!(st.notify_changes(s).unwrap().is_empty());
    st.set(b"patterntest:42", b"", &mut sink);
    assert_eq!(list(&st.notify_changes(s).unwrap()), ["patterntest:42"]);
}

#[test]
fn writers_own_session_is_notified_too() {
    let mut st: Store<u32> = Store::new();
    let a = st.open_session();
    let b = st.open_session();
    st.notify_add(a, b"k", false);
    st.notify_add(b, b"k", false);
    st.notify_via_port(a, Some(1), 0);
    st.notify_via_port(b, Some(2), 0);
    let mut sink = Recorder::new();
    st.set(b"k", b"v", &mut sink);
    assert_eq!(sink.sent, [(a, 1), (b, 2)]);
}
