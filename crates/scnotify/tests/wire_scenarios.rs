//! NextBSD's raw-wire tests (`notifytest.c`, `patterntest.c`, `configd --selftest`) and the
//! wire-level error paths, against the crate's configd on the simulated kernel.
// The simulated kernel only: these tests create tasks and kernels.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

mod common;

use common::*;
use mach_abi::{MIG_BAD_ARGUMENTS, MIG_BAD_ID, MIG_TYPE_ERROR};
use mach_async::MessageBuilder;
use scnotify::store_messages::keylist::{encode_key_list, encode_kv_map};
use scnotify::store_messages::{
    KvMap, Reply, ReplyError, Request, Routine, Status, CONFIG_DATA_MAX, NOTIFY_MSG_ID,
};
use std::time::Duration;

#[test]
fn notifytest_two_sessions_message_and_changes() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let service = w.look_up();
        let a = configopen(&service).await;
        let b = configopen(&service).await;
        assert_ne!(
            a.name(),
            b.name(),
            "configopen gives distinct session ports"
        );

        assert_eq!(
            status(
                &a,
                Request::NotifyAdd {
                    key: b"notifytest:key",
                    is_regex: 0
                }
            )
            .await,
            Status::OK
        );
        let (mut port, send) = notify_port(&w.client);
        assert_eq!(notifyviaport(&a, send, 0).await, Status::OK);
        let r = rpc(
            &b,
            Request::ConfigSet {
                key: b"notifytest:key",
                data: b"v",
                instance: 0,
            },
        )
        .await;
        assert_eq!(
            r.reply(),
            Reply::Instance {
                new_instance: 0,
                status: Status::OK
            }
        );

        let msg = next_within(&mut port, FIVE_S)
            .await
            .expect("a wake-up within 5 s");
        assert_eq!(msg.id(), NOTIFY_MSG_ID);
        assert_eq!(msg.size(), 24, "a bare header");
        let changes = data(&rpc(&a, Request::NotifyChanges).await);
        assert_eq!(keys(&changes), ["notifytest:key"]);

        drop((msg, port, a, b, service));
        configd.close().await;
    });
}

#[test]
fn patterntest_digits_match_nodigits_do_not() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let service = w.look_up();
        let a = configopen(&service).await;
        let b = configopen(&service).await;
        let add = Request::NotifyAdd {
            key: b"patterntest:[0-9]+",
            is_regex: 1,
        };
        assert_eq!(status(&a, add).await, Status::OK);
        let (mut port, send) = notify_port(&w.client);
        assert_eq!(notifyviaport(&a, send, 0).await, Status::OK);

        rpc(
            &b,
            Request::ConfigSet {
                key: b"patterntest:42",
                data: b"",
                instance: 0,
            },
        )
        .await;
        let msg = next_within(&mut port, FIVE_S)
            .await
            .expect("a wake-up within 5 s");
        assert_eq!(msg.id(), NOTIFY_MSG_ID);
        assert_eq!(
            keys(&data(&rpc(&a, Request::NotifyChanges).await)),
            ["patterntest:42"]
        );

        rpc(
            &b,
            Request::ConfigSet {
                key: b"patterntest:nodigits",
                data: b"",
                instance: 0,
            },
        )
        .await;
        assert!(
            next_within(&mut port, Duration::from_millis(500))
                .await
                .is_none(),
            "no message"
        );
        let r = rpc(&a, Request::NotifyChanges).await;
        assert_eq!(data(&r).len(), 0, "an empty notifychanges reply");
        assert_eq!(r.bytes().len(), 44, "reply of 44 + r(0) bytes");

        drop((msg, port, a, b, service));
        configd.close().await;
    });
}

#[test]
fn configd_selftest() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let service = w.look_up();
        let s = configopen(&service).await;

        // 1. set/get round trip.
        rpc(
            &s,
            Request::ConfigSet {
                key: b"selftest:key",
                data: b"value",
                instance: 0,
            },
        )
        .await;
        match rpc(
            &s,
            Request::ConfigGet {
                key: b"selftest:key",
            },
        )
        .await
        .reply()
        {
            Reply::Get { data, status, .. } => {
                assert_eq!(status, Status::OK);
                assert_eq!(data, b"value");
            }
            other => panic!("{other:?}"),
        }
        // 2. watch + set + notifychanges: exactly one record of 4 + len bytes.
        assert_eq!(
            status(
                &s,
                Request::NotifyAdd {
                    key: b"selftest:key",
                    is_regex: 0
                }
            )
            .await,
            Status::OK
        );
        rpc(
            &s,
            Request::ConfigSet {
                key: b"selftest:key",
                data: b"v2",
                instance: 0,
            },
        )
        .await;
        let c = data(&rpc(&s, Request::NotifyChanges).await);
        assert_eq!(c.len(), 4 + "selftest:key".len());
        // 3. notifyviaport + set gives a CNFT message.
        let (mut port, send) = notify_port(&w.client);
        assert_eq!(notifyviaport(&s, send, 0).await, Status::OK);
        rpc(
            &s,
            Request::ConfigSet {
                key: b"selftest:key",
                data: b"v3",
                instance: 0,
            },
        )
        .await;
        let msg = next_within(&mut port, FIVE_S).await.expect("CNFT");
        assert_eq!(msg.id(), NOTIFY_MSG_ID);
        rpc(&s, Request::NotifyChanges).await;
        // 4. regex watch: exactly one record.
        assert_eq!(
            status(
                &s,
                Request::NotifyAdd {
                    key: b"selftest:pat[0-9]+",
                    is_regex: 1
                }
            )
            .await,
            Status::OK
        );
        rpc(
            &s,
            Request::ConfigSet {
                key: b"selftest:pat42",
                data: b"",
                instance: 0,
            },
        )
        .await;
        let c = data(&rpc(&s, Request::NotifyChanges).await);
        assert_eq!(c.len(), 4 + "selftest:pat42".len());
        assert_eq!(keys(&c), ["selftest:pat42"]);
        // 5. configlist with an empty prefix lists both keys.
        let l = data(
            &rpc(
                &s,
                Request::ConfigList {
                    key: b"",
                    is_regex: 0,
                },
            )
            .await,
        );
        assert_eq!(keys(&l), ["selftest:key", "selftest:pat42"]);
        // 6. configset_m / configget_m round trip.
        let d = encode_kv_map([("m:1", "one"), ("m:2", "two")], CONFIG_DATA_MAX).unwrap();
        assert_eq!(
            status(
                &s,
                Request::ConfigSetM {
                    data: &d,
                    remove: b"",
                    notify: b""
                }
            )
            .await,
            Status::OK
        );
        let k = encode_key_list(["m:1", "m:2"], CONFIG_DATA_MAX).unwrap();
        let got = data(
            &rpc(
                &s,
                Request::ConfigGetM {
                    keys: &k,
                    patterns: b"",
                },
            )
            .await,
        );
        assert_eq!(
            KvMap(&got).parse().unwrap(),
            [(&b"m:1"[..], &b"one"[..]), (b"m:2", b"two")]
        );

        drop((msg, port, s, service));
        configd.close().await;
    });
}

#[test]
fn a_full_queue_drops_the_send_and_a_later_change_still_wakes() {
    // #259: configd's send to a full queue fails; notify_owed makes the next change retry.
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let service = w.look_up();
        let s = configopen(&service).await;
        let port = mach_async::ReceiveRight::new_in(&w.client).unwrap();
        let filler = port.make_send().unwrap();
        assert_eq!(
            notifyviaport(&s, port.make_send().unwrap(), 0).await,
            Status::OK
        );
        assert_eq!(
            status(
                &s,
                Request::NotifyAdd {
                    key: b"k",
                    is_regex: 0
                }
            )
            .await,
            Status::OK
        );
        // Fill the queue (limit 5).
        for _ in 0..5 {
            filler.try_send(MessageBuilder::new(1).build()).unwrap();
        }
        rpc(&s, Request::ConfigNotify { key: b"k" }).await;
        assert_eq!(configd.stats().wakeups_failed, 1);
        assert_eq!(configd.stats().wakeups_sent, 0);
        // Drain the port, then a duplicate change of the still-pending key retries the send.
        let mut stream = mach_async::MachRecvStream::new(port).unwrap();
        for _ in 0..5 {
            assert_eq!(
                next_within(&mut stream, FIVE_S).await.expect("filler").id(),
                1
            );
        }
        rpc(&s, Request::ConfigNotify { key: b"k" }).await;
        let m = next_within(&mut stream, FIVE_S)
            .await
            .expect("the owed wake-up");
        assert_eq!(m.id(), NOTIFY_MSG_ID);
        assert_eq!(keys(&data(&rpc(&s, Request::NotifyChanges).await)), ["k"]);
        drop((m, stream, filler, s, service));
        configd.close().await;
    });
}

#[test]
fn bad_input_gets_statuses_and_mig_errors_and_the_server_keeps_serving() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let service = w.look_up();
        let s = configopen(&service).await;

        // Bad regex → 1002.
        assert_eq!(
            status(
                &s,
                Request::NotifyAdd {
                    key: b"bad(",
                    is_regex: 1
                }
            )
            .await,
            Status::INVALID_ARGUMENT
        );
        let p = encode_key_list(["ok", "[z-a]"], CONFIG_DATA_MAX).unwrap();
        assert_eq!(
            status(
                &s,
                Request::NotifySet {
                    keys: b"",
                    patterns: &p
                }
            )
            .await,
            Status::INVALID_ARGUMENT
        );
        // notifyviaport with msgid ≠ 0 → 1002, and the right is released.
        let (port, send) = notify_port(&w.client);
        assert_eq!(notifyviaport(&s, send, 7).await, Status::INVALID_ARGUMENT);
        drop(port);
        // notifyviaport with a null port → 1002.
        let req = Request::NotifyViaPort { port: 0, msgid: 0 }
            .encode()
            .unwrap();
        // A COPY_SEND descriptor of MACH_PORT_NULL.
        let msg = message(&req, Some(mach_async::PortSlot::CopySend(0)));
        let reply = s.request(msg, Some(HANG)).await.unwrap();
        let bytes = reply_bytes(&reply);
        let r = Reply::decode(Routine::NotifyViaPort, &bytes).unwrap();
        assert_eq!(r.status(), Status::INVALID_ARGUMENT);
        // Notify routines on a port that is not a session → 2001.
        assert_eq!(
            status(&service, Request::NotifyCancel).await,
            Status::NO_STORE_SESSION
        );
        let (port, send) = notify_port(&w.client);
        assert_eq!(
            notifyviaport(&service, send, 0).await,
            Status::NO_STORE_SESSION
        );
        drop(port);
        // Empty key → 1002; missing key → 1004; add existing → 1005.
        assert_eq!(
            status(&s, Request::ConfigNotify { key: b"" }).await,
            Status::INVALID_ARGUMENT
        );
        assert_eq!(
            status(&s, Request::ConfigRemove { key: b"missing" }).await,
            Status::NO_KEY
        );
        rpc(
            &s,
            Request::ConfigAdd {
                key: b"x",
                data: b"",
            },
        )
        .await;
        assert_eq!(
            status(
                &s,
                Request::ConfigAdd {
                    key: b"x",
                    data: b""
                }
            )
            .await,
            Status::KEY_EXISTS
        );
        // Stubbed routines → 1001.
        assert_eq!(status(&s, Request::Snapshot).await, Status::FAILED);
        assert_eq!(
            status(
                &s,
                Request::ConfigAddS {
                    key: b"y",
                    data: b""
                }
            )
            .await,
            Status::FAILED
        );

        // Unknown / skipped id → MIG_BAD_ID error reply (not a hang).
        let mut bad = Request::NotifyCancel.encode().unwrap();
        bad[20..24].copy_from_slice(&20_013i32.to_le_bytes());
        let msg = message(&bad, None);
        let reply = s.request(msg, Some(HANG)).await.unwrap();
        assert_eq!(reply.id(), 20_113);
        let err = Reply::decode(Routine::NotifyCancel, &reply_bytes(&reply)).unwrap_err();
        assert!(matches!(err, ReplyError::Mismatch { .. }));
        assert_eq!(&reply_bytes(&reply)[32..36], &MIG_BAD_ID.to_le_bytes());

        // A count that disagrees with msgh_size → MIG_BAD_ARGUMENTS.
        let mut bad = Request::ConfigGet { key: b"abcd" }.encode().unwrap();
        bad[32] = 9;
        let reply = s.request(message(&bad, None), Some(HANG)).await.unwrap();
        let err = Reply::decode(Routine::ConfigGet, &reply_bytes(&reply)).unwrap_err();
        assert_eq!(err, ReplyError::Remote(MIG_BAD_ARGUMENTS));
        // notifyviaport without its descriptor (not complex) → MIG_BAD_ARGUMENTS; with a
        // send-once right instead of a send right → MIG_TYPE_ERROR (right released).
        let mut bad = Request::NotifyViaPort { port: 0, msgid: 0 }
            .encode()
            .unwrap();
        bad[3] &= 0x7f;
        let plain: Vec<u8> = [&bad[..24], &bad[40..]].concat();
        let mut plain = plain;
        plain[4] = plain.len() as u8;
        let reply = s.request(message(&plain, None), Some(HANG)).await.unwrap();
        assert_eq!(
            Reply::decode(Routine::NotifyViaPort, &reply_bytes(&reply)).unwrap_err(),
            ReplyError::Remote(MIG_BAD_ARGUMENTS)
        );
        let notify = mach_async::ReceiveRight::new_in(&w.client).unwrap();
        let once = notify.make_send_once().unwrap();
        let good = Request::NotifyViaPort { port: 0, msgid: 0 }
            .encode()
            .unwrap();
        let msg = message(&good, Some(mach_async::PortRight::SendOnce(once).into()));
        let reply = s.request(msg, Some(HANG)).await.unwrap();
        assert_eq!(
            Reply::decode(Routine::NotifyViaPort, &reply_bytes(&reply)).unwrap_err(),
            ReplyError::Remote(MIG_TYPE_ERROR)
        );
        drop(notify);

        // Still serving.
        rpc(
            &s,
            Request::ConfigSet {
                key: b"after",
                data: b"ok",
                instance: 0,
            },
        )
        .await;
        assert!(configd.stats().rejected >= 3);
        drop((s, service));
        configd.close().await;
    });
}

#[test]
fn session_teardown_on_client_exit_releases_the_notify_right() {
    run(World::new(), |w| async move {
        let configd = w.start_configd();
        let service = w.look_up();
        let s = configopen(&service).await;
        let (mut port, send) = notify_port(&w.client);
        assert_eq!(notifyviaport(&s, send, 0).await, Status::OK);
        assert_eq!(configd.with_store(|st| st.session_ids().count()), 1);
        drop(s); // the client's only session send right
                 // configd tears the session down: its send right to our port goes, and the session is
                 // forgotten. Poll the server's state (bounded by HANG).
        while configd.stats().sessions_closed == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(configd.with_store(|st| st.session_ids().count()), 0);
        assert!(next_within(&mut port, Duration::from_millis(50))
            .await
            .is_none());
        drop((port, service));
        configd.close().await;
    });
}
