//! MachRecvStream / MachNotifyStream on the simulated kernel: what needs its powers (task
//! termination, the silent-close kernel variant, bursts past the queue limit with oversize
//! messages from several threads). The portable stream behaviour (exactly-once delivery, growth,
//! EV_EOF, cancel safety, fairness, notify mode, backlogs) is in crates/conformance and runs there
//! on every backend, this one included.
#![cfg(mach_backend = "sim")]
// Sim-only: these tests build their own simulated kernel (separate client and server tasks,
// fault injection, the kernel's leak accounting). Behaviour that any backend can show is in the
// portable suite, crates/conformance.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use mach_async::{MachRecvStream, MessageBuilder, ReceiveRight};

#[test]
fn terminating_the_owning_task_ends_the_stream() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        within(
            WAIT,
            sender.send(MessageBuilder::new(9).build()),
            "room to send on `sender`",
        )
        .await
        .unwrap();
        assert_eq!(
            within(WAIT, stream.next(), "message 9 on `stream`")
                .await
                .unwrap()
                .unwrap()
                .id(),
            9
        );
        fx.server_task().terminate().unwrap();
        let end = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .unwrap();
        assert!(end.is_none(), "stream ended");
        // The client's right is now a dead name; dropping it releases it.
        drop(sender);
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

/// The task dies on the receive of the first of two queued messages (in the middle of a drain):
/// the stream knows the set is gone (`set_died`) while it still holds the message it received
/// before the death, delivers it, then ends. This is the state `MigServer::serve_until` reads
/// to report a death that came before its stop.
#[test]
fn a_death_in_the_middle_of_a_drain_is_known_before_the_end_is_delivered() {
    use mach_async::mach_sim::{FaultAction, MsgMatch};
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        assert!(!stream.set_died());
        for id in [1, 2] {
            sender.send(MessageBuilder::new(id).build()).await.unwrap();
        }
        let died = fx.kernel.faults().on_receive(
            MsgMatch::any().task(fx.server_task()),
            FaultAction::TerminateTask(fx.server_task().clone()),
        );
        let first = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .expect("no hang");
        assert_eq!(first.unwrap().unwrap().id(), 1);
        assert_eq!(died.fired(), 1);
        assert!(stream.set_died(), "the drain saw the set gone");
        assert_eq!(stream.queued(), 0, "message 2 died with the task's port");
        assert_eq!(
            stream.stats().eof_events,
            0,
            "seen by the receive, not by EV_EOF"
        );
        assert!(stream.next().await.is_none(), "then the stream ends");
        drop(stream);
        drop(sender);
    });
    drop(rt);
    fx.kernel.faults().clear();
    fx.kernel.assert_no_leaks();
}

#[test]
fn lost_wakeup_bursts_beyond_the_queue_limit_with_oversize_messages() {
    let fx = fixture();
    let rt = multi_thread_rt();
    const PRODUCERS: u32 = 4;
    const BURSTS: u32 = 12;
    const BURST: u32 = 12; // > queue limit 5
    let (port, sender) = fx.connect();
    let mut stream = rt.block_on(async {
        MachRecvStream::builder()
            .port(port)
            .buffer_size(1024)
            .build()
            .unwrap()
    });
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let s = sender.clone();
            std::thread::spawn(move || {
                current_thread_rt().block_on(async move {
                    let mut rng = Rng::new(u64::from(p) + 7);
                    let mut seq = 0;
                    for _ in 0..BURSTS {
                        for _ in 0..BURST {
                            let pad = if seq % 7 == 3 { 3000 } else { 0 }; // larger than the initial buffer
                            let mut msg = MessageBuilder::new(p as i32)
                                .body(body(p, seq, pad))
                                .build();
                            // Send with a short timeout and retry: the message comes back intact.
                            loop {
                                match s.send_timeout(msg, Some(Duration::from_millis(2))).await {
                                    Ok(()) => break,
                                    Err(e) => {
                                        assert!(
                                            matches!(e.error(), mach_async::Error::TimedOut),
                                            "{e}"
                                        );
                                        msg = e.into_message();
                                        msg.take_destination();
                                    }
                                }
                            }
                            seq += 1;
                        }
                        tokio::time::sleep(Duration::from_micros(rng.below(500))).await;
                    }
                })
            })
        })
        .collect();
    drop(sender);
    let mut seen: HashMap<u32, Vec<u32>> = HashMap::new();
    rt.block_on(async {
        for _ in 0..PRODUCERS * BURSTS * BURST {
            let m = tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .expect("no wait exceeds the bound")
                .unwrap()
                .unwrap();
            let (p, seq) = parse_body(m.body());
            seen.entry(p).or_default().push(seq);
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(50), stream.next())
                .await
                .is_err(),
            "none twice"
        );
    });
    for p in producers {
        p.join().unwrap();
    }
    for p in 0..PRODUCERS {
        let v = &seen[&p];
        assert_eq!(v.len() as u32, BURSTS * BURST);
        assert!(
            v.iter().copied().eq(0..BURSTS * BURST),
            "every message once, in order"
        );
    }
    let stats = stream.stats();
    assert!(stats.grows >= 1);
    println!("lost-wakeup stats: {stats:?}");
    drop(stream);
    drop(rt);
    fx.kernel.assert_no_leaks();
}

#[test]
fn task_exit_ends_the_stream_on_a_silent_close_kernel() {
    // dcfa0cd semantics (f_isfd = 1): closing a set's own name removes its knotes silently;
    // task exit still posts EV_EOF. The stream must end in both kernels.
    let kernel = mach_async::mach_sim::Kernel::with_config(mach_async::mach_sim::KernelConfig {
        set_close: mach_async::mach_sim::SetCloseSemantics::SilentOnClose,
        ..Default::default()
    });
    let server = mach_async::Space::from_task(kernel.task_create("server", 1, 0, 0));
    let rt = current_thread_rt();
    rt.block_on(async {
        let port = ReceiveRight::new_in(&server).unwrap();
        let send = port.make_send().unwrap();
        let mut stream = MachRecvStream::new(port).unwrap();
        within(
            WAIT,
            send.send(MessageBuilder::new(3).build()),
            "room to send on `send`",
        )
        .await
        .unwrap();
        assert_eq!(
            within(WAIT, stream.next(), "message 3 on `stream`")
                .await
                .unwrap()
                .unwrap()
                .id(),
            3
        );
        drop(send);
        server.task().terminate().unwrap();
        let end = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .unwrap();
        assert!(end.is_none());
    });
    drop(rt);
    kernel.assert_no_leaks();
}
