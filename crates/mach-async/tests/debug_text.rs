//! What logs and error messages show (issue 16): the parser's errors name what is wrong with
//! the bytes, and the `Debug` output of messages, trailers, servers and tables names the fields
//! a reader needs. Also the audit-token accessors a server uses to identify its caller.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use mach_async::mig::{MigServer, RequestCheck, RequestShape, RoutineOutcome, RoutineTable};
use mach_async::raw_message::parse;
use mach_async::{MachRecvStream, MessageBuilder};

fn header(bits: u32, size: u32) -> Vec<u8> {
    let mut b = Vec::new();
    for w in [bits, size, 0, 0, 0, 1234] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b
}

#[test]
fn parse_errors_say_what_is_wrong() {
    let cases: Vec<(Vec<u8>, bool, &str)> = vec![
        (vec![0; 10], false, "truncated header (10 bytes)"),
        (header(0, 7), false, "bad msgh_size 7"),
        (header(0, 64), false, "64"),
        (header(0x8000_0000, 28), false, ""),
        (header(0, 24), true, ""),
    ];
    for (bytes, trailer, text) in cases {
        let err = parse(&bytes, trailer).expect_err("malformed");
        let shown = err.to_string();
        assert!(!shown.is_empty());
        assert!(
            shown.contains(text),
            "{err:?}: {shown:?} should mention {text:?}"
        );
        // The stream's error wraps it with context.
        let wrapped = mach_async::Error::Parse(err).to_string();
        assert!(wrapped.starts_with("malformed message: "), "{wrapped}");
    }
}

#[test]
fn received_messages_and_their_trailers_show_their_fields() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        send.try_send(MessageBuilder::new(77).body(vec![1u8; 8]).build())
            .unwrap();
        let m = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let shown = format!("{m:?}");
        for field in ["id: 77", "body_len: 8", "trailer"] {
            assert!(shown.contains(field), "{shown} lacks {field}");
        }
        let t = m.trailer().unwrap();
        assert_eq!(t.seqno(), m.seqno());
        assert!(t.sender().is_some());
        // The audit token names the sending task (fixture: pid 200, euid 502, egid 20).
        let token = m.audit_token().unwrap();
        assert_eq!(token.pid(), 200);
        assert_eq!(token.euid(), 502);
        assert_eq!(token.egid(), 20);
        // Every accessor reads its own word of the kernel's token (mach-abi.md §6.5 order).
        let val = fx.client.task().audit_token().val;
        assert_eq!(
            [
                token.auid(),
                token.euid(),
                token.egid(),
                token.ruid(),
                token.rgid()
            ],
            [val[0], val[1], val[2], val[3], val[4]]
        );
        assert_eq!(
            [token.pid(), token.asid(), token.pid_version()],
            [val[5] as i32, val[6] as i32, val[7] as i32]
        );
        assert!(!token.is_kernel());
        drop((m, stream, send));
    });
    fx.kernel.assert_no_leaks();
}

#[test]
fn servers_tables_and_checks_show_what_they_serve() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let (port, send) = fx.connect();
        let table = RoutineTable::new(500, 503).routine(
            501,
            RequestCheck::Shape(RequestShape::simple(24)),
            |_req| async { RoutineOutcome::NoReply },
        );
        assert_eq!((table.start(), table.end()), (500, 503));
        let shown = format!("{table:?}");
        assert!(shown.contains("routines: [501]"), "{shown}");
        let check = RequestCheck::Shape(RequestShape::simple(24));
        assert!(format!("{check:?}").starts_with("Shape"));
        let server = MigServer::new(port, table).unwrap();
        let shown = format!("{server:?}");
        assert!(
            shown.contains("MigServer") && shown.contains("hook: false"),
            "{shown}"
        );
        assert_eq!(server.stats(), Default::default());
        let handle = server.handle();
        assert!(format!("{handle:?}").contains("MigServerHandle"));
        let served = server.serve_until(async {}).await;
        drop(served);
        drop((handle, send));
    });
    fx.kernel.assert_no_leaks();
}

#[test]
fn a_mig_client_shows_its_server_and_timeout() {
    let fx = fixture();
    let (port, send) = fx.connect();
    let client = mach_async::mig::MigClient::new(send).with_timeout(Some(Duration::from_secs(3)));
    let shown = format!("{client:?}");
    assert!(
        shown.contains("MigClient") && shown.contains("3s"),
        "{shown}"
    );
    drop((client, port));
    fx.kernel.assert_no_leaks();
}
