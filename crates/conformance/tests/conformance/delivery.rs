//! `MachRecvStream` in message mode: exactly-once in-order delivery, growth on TOO_LARGE, ports
//! moved in with messages queued, EV_EOF, dropping a stream or a pending `next()`, fairness.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use mach_abi::MACH_NOTIFY_SEND_ONCE;
use mach_async::{
    Descriptor, MachRecvStream, MessageBuilder, Notified, PortRight, PortSlot, ReceiveRight,
    SendRight, TrailerRequest,
};
use mach_conformance::{
    current_thread_rt, multi_thread_rt, not_within, within, Fixture, Outcome, HANG,
};

crate::tests!(
    one_message_arrives_with_its_id_and_body,
    an_empty_message_arrives,
    one_sender_is_delivered_in_order,
    concurrent_senders_are_delivered_exactly_once_in_order,
    each_port_of_a_multi_port_stream_keeps_its_order,
    a_too_large_message_is_delivered_after_growth,
    a_port_moved_in_with_messages_queued_delivers_them,
    a_port_inserted_later_with_messages_queued_delivers_them,
    a_removed_port_keeps_its_messages,
    destroying_the_set_ends_the_stream_after_what_was_drained,
    dropping_the_stream_with_messages_queued_releases_their_rights,
    dropping_a_pending_next_loses_nothing,
    a_flooded_stream_does_not_starve_another_on_one_thread,
    a_backlog_larger_than_the_fairness_cap_is_delivered_whole,
    the_audit_trailer_names_the_sender,
    into_ports_gives_back_the_ports_and_undelivered_messages,
    a_hundred_streams_each_get_their_message,
    stats_count_what_was_delivered,
    names_reused_after_a_stream_is_dropped_work_again,
);

/// Sender id and sequence number, then `pad` filler bytes.
fn body(sender: u32, seq: u32, pad: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + pad);
    b.extend_from_slice(&sender.to_le_bytes());
    b.extend_from_slice(&seq.to_le_bytes());
    b.resize(8 + pad, 0xA5);
    b
}

fn parse(b: &[u8]) -> (u32, u32) {
    let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
    (word(0), word(4))
}

async fn next_id(stream: &mut MachRecvStream, what: &str) -> i32 {
    within(HANG, stream.next(), what)
        .await
        .expect("the stream is alive")
        .expect("a message")
        .id()
}

fn one_message_arrives_with_its_id_and_body() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let name = port.name();
        let mut stream = MachRecvStream::new(port).unwrap();
        sender
            .send(MessageBuilder::new(1234).body(&b"ping"[..]).build())
            .await
            .unwrap();
        let msg = within(HANG, stream.next(), "message 1234")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(msg.id(), 1234);
        assert_eq!(&msg.body()[..], b"ping");
        assert_eq!(msg.local_port(), name, "the receiving port's name");
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn an_empty_message_arrives() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        sender.send(MessageBuilder::new(0).build()).await.unwrap();
        let msg = within(HANG, stream.next(), "the empty message")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((msg.id(), msg.body().len()), (0, 0));
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn one_sender_is_delivered_in_order() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        let producer = tokio::spawn(async move {
            for i in 0..200 {
                sender.send(MessageBuilder::new(i).build()).await.unwrap();
            }
        });
        for i in 0..200 {
            assert_eq!(next_id(&mut stream, "the next message in order").await, i);
        }
        within(HANG, producer, "the producer").await.unwrap();
    });
    fx.assert_no_leaks();
    Ok(())
}

/// A tiny deterministic PRNG (xorshift64*), for reproducible bursts.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Sends `count` messages from a thread with its own runtime, in random bursts with random
/// pauses.
fn spawn_sender(sender: SendRight, id: u32, count: u32, seed: u64) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        current_thread_rt().block_on(async move {
            let mut rng = Rng::new(seed);
            let mut seq = 0;
            while seq < count {
                let burst = 1 + rng.below(12) as u32;
                for _ in 0..burst.min(count - seq) {
                    let msg = MessageBuilder::new(1000 + id as i32)
                        .body(body(id, seq, 0))
                        .build();
                    within(HANG, sender.send(msg), "room to send")
                        .await
                        .expect("send");
                    seq += 1;
                }
                if rng.below(3) == 0 {
                    tokio::time::sleep(Duration::from_micros(rng.below(300))).await;
                }
            }
        });
    })
}

fn concurrent_senders_are_delivered_exactly_once_in_order() -> Outcome {
    for iteration in 0..10u64 {
        let fx = Fixture::new();
        let rt = multi_thread_rt();
        rt.block_on(async {
            let (ports, senders): (Vec<_>, Vec<_>) = (0..3).map(|_| fx.connect()).unzip();
            let names: Vec<_> = ports.iter().map(ReceiveRight::name).collect();
            let mut stream = MachRecvStream::builder().ports(ports).build().unwrap();
            const SENDERS: u32 = 4;
            const EACH: u32 = 200;
            // Each sender thread targets one port (round robin), with its own send right.
            let threads: Vec<_> = (0..SENDERS)
                .map(|s| {
                    let right = senders[(s % 3) as usize].clone();
                    spawn_sender(right, s, EACH, iteration * 100 + u64::from(s))
                })
                .collect();
            drop(senders);
            let mut next: HashMap<u32, u32> = HashMap::new();
            for _ in 0..SENDERS * EACH {
                let msg = within(HANG, stream.next(), "every message of every sender").await;
                let msg = msg.expect("the stream is alive").expect("a message");
                let (s, seq) = parse(msg.body());
                assert_eq!(
                    msg.local_port(),
                    names[(s % 3) as usize],
                    "on its sender's port"
                );
                let want = next.entry(s).or_insert(0);
                assert_eq!(seq, *want, "sender {s}: in order, none lost or repeated");
                *want += 1;
                assert_eq!(msg.audit_token().map(|t| t.pid()), Some(fx.client_pid()));
            }
            for t in threads {
                t.join().expect("sender thread");
            }
            assert!(next.values().all(|&n| n == EACH));
            assert_eq!(stream.stats().messages, u64::from(SENDERS * EACH));
            not_within(Duration::from_millis(20), stream.next(), "a duplicate").await;
        });
        drop(rt);
        fx.assert_no_leaks();
    }
    Ok(())
}

fn each_port_of_a_multi_port_stream_keeps_its_order() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (ports, senders): (Vec<_>, Vec<_>) = (0..3).map(|_| fx.connect()).unzip();
        let names: Vec<_> = ports.iter().map(ReceiveRight::name).collect();
        let mut stream = MachRecvStream::builder().ports(ports).build().unwrap();
        for seq in 0..4u32 {
            for (i, s) in senders.iter().enumerate() {
                s.send(
                    MessageBuilder::new(i as i32)
                        .body(body(i as u32, seq, 0))
                        .build(),
                )
                .await
                .unwrap();
            }
        }
        let mut next = [0u32; 3];
        for _ in 0..12 {
            let msg = within(HANG, stream.next(), "12 messages")
                .await
                .unwrap()
                .unwrap();
            let (s, seq) = parse(msg.body());
            assert_eq!(
                msg.local_port(),
                names[s as usize],
                "arrived on its own port"
            );
            assert_eq!(seq, next[s as usize], "per-port FIFO");
            next[s as usize] += 1;
        }
        drop(senders);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_too_large_message_is_delivered_after_growth() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::builder()
            .port(port)
            .buffer_size(256)
            .build()
            .unwrap();
        for (id, pad) in [(1, 8usize), (2, 5000), (3, 100_000)] {
            sender
                .send(
                    MessageBuilder::new(id)
                        .body(body(0, id as u32, pad))
                        .build(),
                )
                .await
                .unwrap();
        }
        for (id, pad) in [(1, 8usize), (2, 5000), (3, 100_000)] {
            let msg = within(HANG, stream.next(), "a message larger than the buffer")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(msg.id(), id);
            assert_eq!(msg.body().len(), 8 + pad);
            assert_eq!(parse(msg.body()), (0, id as u32));
        }
        assert!(stream.stats().grows >= 2, "{:?}", stream.stats());
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_port_moved_in_with_messages_queued_delivers_them() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        for i in 0..5 {
            sender.try_send(MessageBuilder::new(i).build()).unwrap();
        }
        let mut stream = MachRecvStream::new(port).unwrap();
        for i in 0..5 {
            assert_eq!(
                next_id(&mut stream, "a message queued before the stream").await,
                i
            );
        }
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_port_inserted_later_with_messages_queued_delivers_them() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (first, s1) = fx.connect();
        let mut stream = MachRecvStream::new(first).unwrap();
        let (second, s2) = fx.connect();
        s2.try_send(MessageBuilder::new(77).build()).unwrap();
        stream.insert_port(second).unwrap();
        assert_eq!(
            next_id(&mut stream, "the message queued on the inserted port").await,
            77
        );
        s1.send(MessageBuilder::new(78).build()).await.unwrap();
        assert_eq!(
            next_id(&mut stream, "the first port still delivers").await,
            78
        );
        drop((s1, s2));
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_removed_port_keeps_its_messages() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (a, sa) = fx.connect();
        let (b, sb) = fx.connect();
        let b_name = b.name();
        let mut stream = MachRecvStream::builder().ports([a, b]).build().unwrap();
        let removed = stream.remove_port(b_name).expect("b was a member");
        sb.send(MessageBuilder::new(5).build()).await.unwrap();
        not_within(
            Duration::from_millis(30),
            stream.next(),
            "a message from the removed port",
        )
        .await;
        let mut alone = MachRecvStream::new(removed).unwrap();
        assert_eq!(next_id(&mut alone, "the removed port's message").await, 5);
        drop((sa, sb));
    });
    fx.assert_no_leaks();
    Ok(())
}

fn destroying_the_set_ends_the_stream_after_what_was_drained() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        for i in 5..8 {
            sender.send(MessageBuilder::new(i).build()).await.unwrap();
        }
        assert_eq!(next_id(&mut stream, "message 5").await, 5);
        assert_eq!(stream.queued(), 2, "the drain pulled the others in");
        fx.destroy_set_externally(stream.set_name());
        assert_eq!(next_id(&mut stream, "drained message 6").await, 6);
        assert_eq!(next_id(&mut stream, "drained message 7").await, 7);
        let end = within(HANG, stream.next(), "the end of the stream (EV_EOF)").await;
        assert!(end.is_none(), "the stream ended");
        assert_eq!(stream.stats().eof_events, 1);
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn dropping_the_stream_with_messages_queued_releases_their_rights() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mine = ReceiveRight::new_in(fx.client()).unwrap();
        let no_senders = mine.request_no_senders(1).unwrap();
        for i in 0..5 {
            let extra = ReceiveRight::new_in(fx.client()).unwrap();
            let msg = MessageBuilder::new(i)
                .reply_make_send_once(&mine)
                .make_send(&mine)
                .port(PortSlot::Right(extra.into()))
                .body(&b"payload!"[..])
                .build();
            sender.try_send(msg).unwrap();
        }
        let mut stream = MachRecvStream::new(port).unwrap();
        let first = within(HANG, stream.next(), "the first message").await;
        let first = first.unwrap().unwrap();
        assert!(matches!(
            first.descriptors()[0],
            Descriptor::Port(Some(PortSlot::Right(PortRight::Send(_))))
        ));
        assert!(matches!(
            first.descriptors()[1],
            Descriptor::Port(Some(PortSlot::Right(PortRight::Receive(_))))
        ));
        assert_eq!(
            stream.queued(),
            4,
            "the drain pulled the rest into the stream"
        );
        drop(first);
        drop(sender);
        // Four undelivered messages, each with a send, a send-once and a receive right, die
        // with the stream: every send right to `mine` is gone.
        drop(stream);
        let n = within(
            HANG,
            no_senders,
            "no-senders once every carried right is gone",
        )
        .await;
        assert_eq!(n.unwrap(), Notified::NoSenders(5));
        // The destroyed send-once rights produced send-once notifications on `mine`.
        let mut mine = MachRecvStream::new(mine).unwrap();
        for _ in 0..5 {
            let msg = within(HANG, mine.next(), "a send-once notification").await;
            assert_eq!(msg.unwrap().unwrap().id(), MACH_NOTIFY_SEND_ONCE);
        }
    });
    fx.assert_no_leaks();
    Ok(())
}

fn dropping_a_pending_next_loses_nothing() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        not_within(
            Duration::from_millis(20),
            stream.next(),
            "a message before any send",
        )
        .await;
        let producer = tokio::spawn(async move {
            for i in 0..300 {
                sender.send(MessageBuilder::new(i).build()).await.unwrap();
                if i % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        let mut want = 0;
        let mut polls = 0u32;
        while want < 300 {
            polls += 1;
            assert!(polls < 1_000_000, "stuck at message {want}");
            match tokio::time::timeout(Duration::from_micros(50), stream.next()).await {
                Ok(Some(Ok(m))) => {
                    assert_eq!(
                        m.id(),
                        want,
                        "nothing lost or reordered by a cancelled next()"
                    );
                    want += 1;
                }
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) => {} // a next() dropped while pending
            }
        }
        within(HANG, producer, "the producer").await.unwrap();
        not_within(Duration::from_millis(20), stream.next(), "an extra message").await;
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_flooded_stream_does_not_starve_another_on_one_thread() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
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
        let flooders: Vec<_> = senders
            .iter()
            .enumerate()
            .map(|(i, s)| spawn_sender(s.clone(), i as u32, 40, i as u64))
            .collect();
        let total = 16 * 5 + 16 * 40;
        let a_task = tokio::spawn(async move {
            for _ in 0..total {
                within(HANG, a.next(), "the flood").await.unwrap().unwrap();
            }
            a
        });
        assert_eq!(next_id(&mut b, "B's message while A is flooded").await, 42);
        let a = within(HANG, a_task, "A's flood").await.unwrap();
        assert!(
            a.stats().yields > 0,
            "A yielded at its cap: {:?}",
            a.stats()
        );
        for f in flooders {
            f.join().expect("flooder");
        }
        drop((senders, sb));
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_backlog_larger_than_the_fairness_cap_is_delivered_whole() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
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
        // 80 queued before the first poll, a cap of 8: the stream must keep draining after its
        // capped first drain without waiting for a new edge.
        let mut stream = MachRecvStream::builder()
            .ports(ports)
            .fairness_cap(8)
            .build()
            .unwrap();
        let mut per_port: HashMap<i32, Vec<i32>> = HashMap::new();
        for _ in 0..80 {
            let msg = within(HANG, stream.next(), "the backlog, without a new edge").await;
            let id = msg.unwrap().unwrap().id();
            per_port.entry(id / 10).or_default().push(id % 10);
        }
        assert_eq!(per_port.len(), 16);
        for ids in per_port.values() {
            assert_eq!(ids, &[0, 1, 2, 3, 4], "per-port FIFO");
        }
        assert!(stream.stats().yields >= 9, "{:?}", stream.stats());
        not_within(Duration::from_millis(20), stream.next(), "an 81st message").await;
        drop(stream);
        drop(senders);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn the_audit_trailer_names_the_sender() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::builder()
            .port(port)
            .trailer(TrailerRequest::Audit)
            .build()
            .unwrap();
        sender.send(MessageBuilder::new(3).build()).await.unwrap();
        let msg = within(HANG, stream.next(), "the message")
            .await
            .unwrap()
            .unwrap();
        let token = msg.audit_token().expect("an audit trailer was requested");
        assert_eq!(token.pid(), fx.client_pid());
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn into_ports_gives_back_the_ports_and_undelivered_messages() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let name = port.name();
        let mut stream = MachRecvStream::new(port).unwrap();
        for i in 0..3 {
            sender.send(MessageBuilder::new(i).build()).await.unwrap();
        }
        assert_eq!(next_id(&mut stream, "message 0").await, 0);
        let (ports, undelivered) = stream.into_ports();
        assert_eq!(
            ports.iter().map(ReceiveRight::name).collect::<Vec<_>>(),
            [name]
        );
        assert_eq!(
            undelivered.iter().map(|m| m.id()).collect::<Vec<_>>(),
            [1, 2]
        );
        drop(undelivered);
        drop(sender);
        drop(ports);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_hundred_streams_each_get_their_message() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let mut streams = Vec::new();
        let mut senders = Vec::new();
        for _ in 0..100 {
            let (p, s) = fx.connect();
            streams.push(MachRecvStream::new(p).unwrap());
            senders.push(s);
        }
        for (i, s) in senders.iter().enumerate().rev() {
            s.send(MessageBuilder::new(i as i32).build()).await.unwrap();
        }
        for (i, stream) in streams.iter_mut().enumerate() {
            assert_eq!(next_id(stream, "each stream's own message").await, i as i32);
        }
        drop(senders);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn stats_count_what_was_delivered() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut stream = MachRecvStream::new(port).unwrap();
        let handle = stream.stats_handle();
        // Five: the queue limit (nothing receives while this task sends).
        for i in 0..5 {
            within(
                HANG,
                sender.send(MessageBuilder::new(i).build()),
                "room to send",
            )
            .await
            .unwrap();
        }
        for _ in 0..5 {
            within(HANG, stream.next(), "five messages")
                .await
                .unwrap()
                .unwrap();
        }
        let stats = handle.get();
        assert_eq!(stats.messages, 5, "{stats:?}");
        assert_eq!(stats, stream.stats());
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn names_reused_after_a_stream_is_dropped_work_again() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        for round in 0..20 {
            let (port, sender) = fx.connect();
            let mut stream = MachRecvStream::new(port).unwrap();
            sender
                .send(MessageBuilder::new(round).build())
                .await
                .unwrap();
            assert_eq!(next_id(&mut stream, "this round's message").await, round);
            drop(sender);
            drop(stream);
        }
    });
    fx.assert_no_leaks();
    Ok(())
}
