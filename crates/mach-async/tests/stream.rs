//! MachRecvStream / MachNotifyStream on the simulated kernel.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use mach_async::{Descriptor, MachRecvStream, MessageBuilder, PortSlot, ReceiveRight, SendRight};

/// Sends `count` messages from a thread with its own runtime, in random bursts.
fn spawn_sender(
    sender: SendRight,
    id: u32,
    count: u32,
    seed: u64,
    pad: usize,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = current_thread_rt();
        rt.block_on(async move {
            let mut rng = Rng::new(seed);
            let mut seq = 0;
            while seq < count {
                let burst = 1 + rng.below(12) as u32;
                for _ in 0..burst.min(count - seq) {
                    let msg = MessageBuilder::new(1000 + id as i32)
                        .body(body(id, seq, pad))
                        .build();
                    sender.send(msg).await.expect("send");
                    seq += 1;
                }
                if rng.below(3) == 0 {
                    tokio::time::sleep(Duration::from_micros(rng.below(300))).await;
                }
            }
        });
    })
}

#[test]
fn concurrent_senders_deliver_exactly_once_in_order() {
    for iteration in 0..20u64 {
        let fx = fixture();
        let rt = multi_thread_rt();
        let (ports, senders): (Vec<_>, Vec<_>) = (0..3).map(|_| fx.connect()).unzip();
        let port_names: Vec<u32> = ports.iter().map(|p| p.name()).collect();
        const SENDERS: u32 = 4;
        const PER_SENDER: u32 = 200;
        let mut stream =
            rt.block_on(async { MachRecvStream::builder().ports(ports).build().unwrap() });
        let mut threads = Vec::new();
        for s in 0..SENDERS {
            // Each sender thread targets one port (round robin), with its own send right.
            let right = senders[(s % 3) as usize].clone();
            threads.push(spawn_sender(
                right,
                s,
                PER_SENDER,
                iteration * 100 + u64::from(s),
                0,
            ));
        }
        drop(senders);
        let mut next: HashMap<u32, u32> = HashMap::new();
        let total = rt.block_on(async {
            let mut total = 0;
            while total < SENDERS * PER_SENDER {
                let msg = tokio::time::timeout(Duration::from_secs(10), stream.next())
                    .await
                    .expect("a message within the bound")
                    .expect("stream alive")
                    .expect("message");
                let (sender, seq) = parse_body(msg.body());
                assert!(port_names.contains(&msg.local_port()));
                assert_eq!(
                    port_names[(sender % 3) as usize],
                    msg.local_port(),
                    "arrived on its sender's port"
                );
                let want = next.entry(sender).or_insert(0);
                assert_eq!(seq, *want, "per-port FIFO for sender {sender}");
                *want += 1;
                assert_eq!(msg.audit_token().map(|t| t.pid()), Some(200));
                total += 1;
            }
            total
        });
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(total, SENDERS * PER_SENDER);
        assert!(next.values().all(|&n| n == PER_SENDER));
        let stats = stream.stats();
        assert_eq!(stats.messages, u64::from(SENDERS * PER_SENDER));
        drop(stream);
        drop(rt);
        fx.kernel.assert_no_leaks();
    }
}

#[test]
fn too_large_message_is_delivered_after_growth() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::builder()
            .port(port)
            .buffer_size(256)
            .build()
            .unwrap();
        sender
            .send(MessageBuilder::new(1).body(body(0, 0, 8)).build())
            .await
            .unwrap();
        sender
            .send(MessageBuilder::new(2).body(body(0, 1, 5000)).build())
            .await
            .unwrap();
        sender
            .send(MessageBuilder::new(3).body(body(0, 2, 100_000)).build())
            .await
            .unwrap();
        let a = stream.next().await.unwrap().unwrap();
        let b = stream.next().await.unwrap().unwrap();
        let c = stream.next().await.unwrap().unwrap();
        assert_eq!((a.id(), b.id(), c.id()), (1, 2, 3));
        assert_eq!(b.body().len(), 5008);
        assert_eq!(c.body().len(), 100_008);
        assert_eq!(parse_body(c.body()), (0, 2));
        assert!(stream.stats().grows >= 2, "{:?}", stream.stats());
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

#[test]
fn port_moved_in_with_queued_messages_delivers_them() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        for i in 0..5 {
            sender.try_send(MessageBuilder::new(i).build()).unwrap();
        }
        let mut stream = MachRecvStream::new(port).unwrap();
        for i in 0..5 {
            let m = tokio::time::timeout(Duration::from_secs(2), stream.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(m.id(), i);
        }
        // And a port inserted later, with messages already queued.
        let (port2, sender2) = fx.connect();
        sender2.try_send(MessageBuilder::new(77).build()).unwrap();
        stream.insert_port(port2).unwrap();
        let m = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(m.id(), 77);
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

#[test]
fn destroying_the_set_ends_the_stream() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        for i in 5..8 {
            sender.send(MessageBuilder::new(i).build()).await.unwrap();
        }
        assert_eq!(stream.next().await.unwrap().unwrap().id(), 5);
        assert_eq!(stream.queued(), 2, "the drain pulled the others in");
        // Someone else destroys the stream's set (as exec/exit would): EV_EOF ends the stream,
        // after what was already drained has been delivered (rule 15).
        fx.server_task().port_close(stream.set_name()).unwrap();
        sender.send(MessageBuilder::new(8).build()).await.unwrap(); // stays on the port
        assert_eq!(stream.next().await.unwrap().unwrap().id(), 6);
        assert_eq!(stream.next().await.unwrap().unwrap().id(), 7);
        let end = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .unwrap();
        assert!(end.is_none(), "stream ended");
        assert_eq!(stream.stats().eof_events, 1);
        // The port itself is still the stream's: dropping the stream destroys it (and the
        // message queued on it), but not the set name, which may have been reused.
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

#[test]
fn terminating_the_owning_task_ends_the_stream() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        sender.send(MessageBuilder::new(9).build()).await.unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap().id(), 9);
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
fn dropping_the_stream_with_queued_messages_leaks_no_right() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        // The client's own port; its send rights travel in the messages.
        let mine = ReceiveRight::new_in(&fx.client).unwrap();
        let no_senders = mine.request_no_senders(1).unwrap();
        for i in 0..5 {
            let extra = ReceiveRight::new_in(&fx.client).unwrap();
            let msg = MessageBuilder::new(i)
                .reply_make_send_once(&mine)
                .make_send(&mine)
                .port(PortSlot::Right(extra.into()))
                .body(&b"payload!"[..])
                .build();
            sender.try_send(msg).unwrap();
        }
        let mut stream = MachRecvStream::new(port).unwrap();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.id(), 0);
        assert!(matches!(
            first.descriptors()[0],
            Descriptor::Port(Some(PortSlot::Right(mach_async::PortRight::Send(_))))
        ));
        assert!(matches!(
            first.descriptors()[1],
            Descriptor::Port(Some(PortSlot::Right(mach_async::PortRight::Receive(_))))
        ));
        assert_eq!(
            stream.queued(),
            4,
            "the drain pulled the rest into the stream"
        );
        drop(first);
        drop(stream); // 4 undelivered messages, each with a send, a send-once and a receive right
                      // Every send right to `mine` is gone: the no-senders notification fires.
        let n = tokio::time::timeout(Duration::from_secs(2), no_senders)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, mach_async::Notified::NoSenders(5));
        // The destroyed send-once rights produced send-once notifications on `mine`.
        let mut mine_stream = MachRecvStream::new(mine).unwrap();
        for _ in 0..5 {
            let m = tokio::time::timeout(Duration::from_secs(2), mine_stream.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(m.id(), mach_abi::MACH_NOTIFY_SEND_ONCE);
        }
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

#[test]
fn dropping_a_pending_next_loses_nothing() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        // A next() that is polled, left pending, and dropped.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), stream.next())
                .await
                .is_err()
        );
        sender.send(MessageBuilder::new(1).build()).await.unwrap();
        // Race many short-lived next() futures against a sender task.
        let s2 = sender.clone();
        let producer = tokio::spawn(async move {
            for i in 2..300 {
                s2.send(MessageBuilder::new(i).build()).await.unwrap();
                if i % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        let mut want = 1;
        let mut cancelled = 0;
        while want < 300 {
            match tokio::time::timeout(Duration::from_micros(50), stream.next()).await {
                Ok(Some(Ok(m))) => {
                    assert_eq!(m.id(), want);
                    want += 1;
                }
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) => cancelled += 1,
            }
        }
        producer.await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(20), stream.next())
                .await
                .is_err(),
            "nothing extra"
        );
        let _ = cancelled;
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

#[test]
fn a_flooded_stream_does_not_starve_another_on_a_current_thread_runtime() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        // Stream A: 16 ports, each full (5 queued) = 80 messages, fairness cap 8.
        let mut ports = Vec::new();
        let mut senders = Vec::new();
        for _ in 0..16 {
            let (p, s) = fx.connect();
            for i in 0..5 {
                s.try_send(MessageBuilder::new(i).build()).unwrap();
            }
            ports.push(p);
            senders.push(s);
        }
        let mut a = MachRecvStream::builder()
            .ports(ports)
            .fairness_cap(8)
            .build()
            .unwrap();
        let (pb, sb) = fx.connect();
        let mut b = MachRecvStream::new(pb).unwrap();
        sb.send(MessageBuilder::new(42).build()).await.unwrap();
        // A flood that keeps A's ports refilled from other threads.
        let flooders: Vec<_> = senders
            .iter()
            .enumerate()
            .map(|(i, s)| spawn_sender(s.clone(), i as u32, 40, i as u64, 0))
            .collect();
        let a_task = tokio::spawn(async move {
            let mut n = 0u32;
            while n < 80 + 16 * 40 {
                a.next().await.unwrap().unwrap();
                n += 1;
            }
            a
        });
        // B must be served while A is flooded.
        let got = tokio::time::timeout(Duration::from_secs(5), b.next())
            .await
            .expect("B not starved");
        assert_eq!(got.unwrap().unwrap().id(), 42);
        let a = a_task.await.unwrap();
        assert!(
            a.stats().yields > 0,
            "A yielded at its fairness cap: {:?}",
            a.stats()
        );
        for f in flooders {
            f.join().unwrap();
        }
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}

#[test]
fn notify_mode_coalesces_and_the_callers_receive_drains_all() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let mut ports = Vec::new();
        let mut senders = Vec::new();
        for _ in 0..10 {
            let (p, s) = fx.connect();
            ports.push(p);
            senders.push(s);
        }
        let mut notify = MachRecvStream::builder()
            .ports(ports)
            .build_notify()
            .unwrap();
        // First poll is a signal (rule 6); nothing is queued yet.
        notify.next().await.unwrap().unwrap();
        assert!(notify.try_recv().unwrap().is_none());
        // A burst of 50 messages (5 per port).
        for s in &senders {
            for i in 0..5 {
                s.try_send(MessageBuilder::new(i).build()).unwrap();
            }
        }
        let mut received = 0;
        let mut signals = 0;
        while received < 50 {
            tokio::time::timeout(Duration::from_secs(2), notify.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            signals += 1;
            while let Some(_m) = notify.try_recv().unwrap() {
                received += 1;
            }
        }
        assert_eq!(received, 50);
        assert!(
            signals <= 2,
            "a burst coalesces into few signals, got {signals}"
        );
        // Stopping early is safe: the stream signals again.
        for i in 0..3 {
            senders[0].try_send(MessageBuilder::new(i).build()).unwrap();
        }
        tokio::time::timeout(Duration::from_secs(2), notify.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(notify.try_recv().unwrap().is_some());
        tokio::time::timeout(Duration::from_secs(2), notify.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let mut rest = 0;
        while notify.try_recv().unwrap().is_some() {
            rest += 1;
        }
        assert_eq!(rest, 2);
        assert!(
            tokio::time::timeout(Duration::from_millis(30), notify.next())
                .await
                .is_err(),
            "no signal when idle"
        );
        assert!(notify.stats().signals >= 3);
    });
    drop(rt);
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
        send.send(MessageBuilder::new(3).build()).await.unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap().id(), 3);
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

/// Regression: more messages queued than the fairness cap before the first poll, and no sender
/// afterwards. The first drain runs without a readiness guard (rule 6), so after its capped
/// yield the stream must drain again on its own: no later edge will come for these messages.
#[test]
fn a_backlog_larger_than_the_cap_before_the_first_poll_is_delivered_whole() {
    let fx = fixture();
    let rt = current_thread_rt();
    rt.block_on(async {
        let mut ports = Vec::new();
        let mut senders = Vec::new();
        for p in 0..16 {
            let (port, sender) = fx.connect();
            for i in 0..5 {
                sender
                    .try_send(MessageBuilder::new(p * 10 + i).build())
                    .unwrap();
            }
            ports.push(port);
            senders.push(sender);
        }
        let mut stream = MachRecvStream::builder()
            .ports(ports)
            .fairness_cap(8)
            .build()
            .unwrap();
        let mut per_port: HashMap<i32, Vec<i32>> = HashMap::new();
        for _ in 0..80 {
            let msg = tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .expect("backlog delivered without a new edge")
                .unwrap()
                .unwrap();
            per_port
                .entry(msg.id() / 10)
                .or_default()
                .push(msg.id() % 10);
        }
        assert_eq!(per_port.len(), 16);
        for ids in per_port.values() {
            assert_eq!(ids, &[0, 1, 2, 3, 4], "per-port FIFO");
        }
        assert!(stream.stats().yields >= 9, "{:?}", stream.stats());
        drop(stream);
        drop(senders);
    });
    drop(rt);
    fx.kernel.assert_no_leaks();
}
