//! `MachNotifyStream` (notify mode, what the C dispatch sources used): coalesced signals, the
//! caller's own receives, signals again after a partial drain, silence when idle, EV_EOF.

use std::time::Duration;

use futures::StreamExt;
use mach_async::{MachNotifyStream, MachRecvStream, MessageBuilder};
use mach_conformance::{current_thread_rt, not_within, within, Fixture, Outcome, HANG};

crate::tests!(
    the_first_poll_signals_and_nothing_is_queued,
    a_burst_coalesces_and_the_callers_receive_drains_it,
    stopping_a_drain_early_signals_again,
    no_signal_while_idle,
    destroying_the_set_ends_a_notify_stream,
    into_ports_gives_back_the_ports_with_their_messages,
);

async fn signal(stream: &mut MachNotifyStream, what: &str) {
    within(HANG, stream.next(), what)
        .await
        .expect("the stream is alive")
        .expect("a signal, not an error");
}

fn the_first_poll_signals_and_nothing_is_queued() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut notify = MachNotifyStream::new(port).unwrap();
        signal(&mut notify, "the first-poll signal").await;
        assert!(notify.try_recv().unwrap().is_none());
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn a_burst_coalesces_and_the_callers_receive_drains_it() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (ports, senders): (Vec<_>, Vec<_>) = (0..6).map(|_| fx.connect()).unzip();
        let mut notify = MachRecvStream::builder()
            .ports(ports)
            .build_notify()
            .unwrap();
        signal(&mut notify, "the first-poll signal").await;
        for s in &senders {
            for i in 0..5 {
                s.try_send(MessageBuilder::new(i).build()).unwrap();
            }
        }
        let (mut received, mut signals) = (0, 0);
        while received < 30 {
            signal(&mut notify, "a signal for the burst").await;
            signals += 1;
            while let Some(_msg) = notify.try_recv().unwrap() {
                received += 1;
            }
        }
        assert_eq!(received, 30);
        assert!(
            signals <= 2,
            "a burst coalesces into few signals, got {signals}"
        );
        drop(senders);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn stopping_a_drain_early_signals_again() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut notify = MachNotifyStream::new(port).unwrap();
        signal(&mut notify, "the first-poll signal").await;
        for i in 0..3 {
            sender.try_send(MessageBuilder::new(i).build()).unwrap();
        }
        signal(&mut notify, "a signal for three messages").await;
        assert_eq!(notify.try_recv().unwrap().map(|m| m.id()), Some(0));
        // The caller stops after one message; the stream must signal again for the rest.
        signal(&mut notify, "a signal for what was left").await;
        let mut rest = Vec::new();
        while let Some(m) = notify.try_recv().unwrap() {
            rest.push(m.id());
        }
        assert_eq!(rest, [1, 2]);
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn no_signal_while_idle() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut notify = MachNotifyStream::new(port).unwrap();
        signal(&mut notify, "the first-poll signal").await;
        while notify.try_recv().unwrap().is_some() {}
        not_within(
            Duration::from_millis(50),
            notify.next(),
            "a signal with nothing queued",
        )
        .await;
        sender.try_send(MessageBuilder::new(1).build()).unwrap();
        signal(&mut notify, "a signal for the new message").await;
        assert_eq!(notify.try_recv().unwrap().map(|m| m.id()), Some(1));
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn destroying_the_set_ends_a_notify_stream() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut notify = MachNotifyStream::new(port).unwrap();
        signal(&mut notify, "the first-poll signal").await;
        fx.destroy_set_externally(notify.set_name());
        let mut ended = false;
        for _ in 0..3 {
            match within(HANG, notify.next(), "EV_EOF").await {
                None => {
                    ended = true;
                    break;
                }
                Some(_) => continue,
            }
        }
        assert!(ended, "the stream ended after its set was destroyed");
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}

fn into_ports_gives_back_the_ports_with_their_messages() -> Outcome {
    let fx = Fixture::new();
    current_thread_rt().block_on(async {
        let (port, sender) = fx.connect();
        let mut notify = MachNotifyStream::new(port).unwrap();
        signal(&mut notify, "the first-poll signal").await;
        sender.try_send(MessageBuilder::new(8).build()).unwrap();
        let mut ports = notify.into_ports();
        assert_eq!(ports.len(), 1);
        // The message stayed on the port (notify mode never takes what the caller did not).
        let mut stream = MachRecvStream::new(ports.remove(0)).unwrap();
        let msg = within(HANG, stream.next(), "the message left on the port").await;
        assert_eq!(msg.unwrap().unwrap().id(), 8);
        drop(sender);
    });
    fx.assert_no_leaks();
    Ok(())
}
