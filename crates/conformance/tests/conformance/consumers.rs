//! The three consumers' Rust APIs end to end, each with its server in the same process:
//! scnotify with the configd-compatible store server, ipconfig-rpc with its server, and
//! iokit-notify on the backend's ioregistry (events injected with `IOREGIOCTESTEVENT`).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use iokit_notify::registry_abi::{ioreg_test_event, IOREG_EVENT_ARRIVE, IOREG_EVENT_DEPART};
use iokit_notify::{
    Criteria, DeviceEvent, EventKind, EventKinds, NotificationPort, WatchEvent, WatchStream,
};
use ipconfig_rpc::{
    CallContext, IfAddr, InterfaceName, IpconfigClient, IpconfigHandler, IpconfigServer,
    IpconfigStatus,
};
use mach_async::mig::{MigError, ReplyShape};
use mach_conformance::{
    current_thread_rt, multi_thread_rt, not_within, within, Fixture, Outcome, Skipped, HANG,
};
use scnotify::{ConfigdServer, Connector, Session};

crate::tests!(
    scnotify_set_then_get_round_trips,
    scnotify_a_session_finds_configd_through_the_bootstrap_server,
    scnotify_a_watched_key_change_is_notified,
    scnotify_a_pattern_matches_keys_it_never_named,
    scnotify_changes_before_a_read_coalesce_into_one_batch,
    scnotify_an_unwatched_key_is_not_notified,
    scnotify_cancelling_the_notifications_releases_everything,
    ipconfig_if_count_and_if_addr,
    ipconfig_an_unknown_interface_is_no_server,
    ipconfig_a_bad_request_gets_an_error_reply_and_serving_goes_on,
    iokit_an_arrival_and_its_departure_are_reported_and_unknown_departures_dropped,
    iokit_criteria_filter_events,
    iokit_closing_the_port_ends_its_watches,
    iokit_lookup_and_node_agree,
);

// ---- scnotify ---------------------------------------------------------------------------------

/// Runs `body` with a store server spawned on a fresh port and a session opened through it.
fn with_store<F, Fut>(body: F)
where
    F: FnOnce(Session) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let fx = Fixture::new();
    let rt = multi_thread_rt();
    rt.block_on(async {
        let (port, service) = fx.connect();
        let server = ConfigdServer::spawn(port).expect("the store server");
        let opening = Session::builder(fx.client())
            .connector(Connector::service_port(service))
            .open();
        let session = within(HANG, opening, "configopen")
            .await
            .expect("a session");
        body(session).await;
        within(HANG, server.close(), "the store server to stop").await;
    });
    drop(rt);
    fx.assert_no_leaks();
}

async fn next_batch(changes: &mut scnotify::Notifications, what: &str) -> scnotify::ChangedKeys {
    within(HANG, changes.next(), what)
        .await
        .expect("the notifications stream is alive")
        .expect("a batch of changed keys")
}

fn scnotify_set_then_get_round_trips() -> Outcome {
    with_store(|session| async move {
        session
            .set("Setup:/Network/Global/IPv4", b"<dict/>")
            .await
            .unwrap();
        assert_eq!(
            session.get("Setup:/Network/Global/IPv4").await.unwrap(),
            b"<dict/>"
        );
        assert!(
            session.get("Setup:/Nope").await.is_err(),
            "an unknown key is an error"
        );
    });
    Ok(())
}

fn scnotify_a_session_finds_configd_through_the_bootstrap_server() -> Outcome {
    let fx = Fixture::new();
    let rt = multi_thread_rt();
    let outcome = rt.block_on(async {
        let port = mach_async::ReceiveRight::new_in(fx.server()).unwrap();
        let service = format!("org.nextbsd.conformance.configd.{}", std::process::id());
        fx.register_service(&service, &port)?;
        let server = ConfigdServer::spawn(port).expect("the store server");
        // The session's own bootstrap_look_up (natively: the C library's).
        let opening = Session::builder(fx.client())
            .connector(Connector::Bootstrap(service))
            .open();
        let session = within(HANG, opening, "configopen")
            .await
            .expect("a session through the bootstrap server");
        session.set("State:/Boot", b"1").await.unwrap();
        assert_eq!(session.get("State:/Boot").await.unwrap(), b"1");
        drop(session);
        within(HANG, server.close(), "the store server to stop").await;
        Ok(())
    });
    drop(rt);
    fx.assert_no_leaks();
    outcome
}

fn scnotify_a_watched_key_change_is_notified() -> Outcome {
    with_store(|session| async move {
        let key = "State:/Network/Interface/en0/Link";
        session.set_notification_keys(&[key], &[]).await.unwrap();
        let mut changes = session.notifications().await.unwrap();
        session.set(key, b"<true/>").await.unwrap();
        assert_eq!(
            next_batch(&mut changes, "the change of en0/Link").await,
            [key]
        );
        changes.close().await;
    });
    Ok(())
}

fn scnotify_a_pattern_matches_keys_it_never_named() -> Outcome {
    with_store(|session| async move {
        session
            .set_notification_keys(&[], &["State:/Network/Interface/.*/Link"])
            .await
            .unwrap();
        let mut changes = session.notifications().await.unwrap();
        session
            .set("State:/Network/Interface/em7/Link", b"1")
            .await
            .unwrap();
        assert_eq!(
            next_batch(&mut changes, "the pattern match").await,
            ["State:/Network/Interface/em7/Link"]
        );
        changes.close().await;
    });
    Ok(())
}

fn scnotify_changes_before_a_read_coalesce_into_one_batch() -> Outcome {
    with_store(|session| async move {
        let keys = ["State:/A", "State:/B", "State:/C"];
        session.set_notification_keys(&keys, &[]).await.unwrap();
        let mut changes = session.notifications().await.unwrap();
        for k in keys {
            session.set(k, b"x").await.unwrap();
        }
        let mut seen = Vec::new();
        while seen.len() < 3 {
            seen.extend(next_batch(&mut changes, "the three changes").await);
        }
        seen.sort();
        assert_eq!(seen, keys, "each changed key once");
        changes.close().await;
    });
    Ok(())
}

fn scnotify_an_unwatched_key_is_not_notified() -> Outcome {
    with_store(|session| async move {
        session
            .set_notification_keys(&["State:/Watched"], &[])
            .await
            .unwrap();
        let mut changes = session.notifications().await.unwrap();
        session.set("State:/Other", b"x").await.unwrap();
        not_within(
            Duration::from_millis(50),
            changes.next(),
            "a batch for an unwatched key",
        )
        .await;
        session.set("State:/Watched", b"x").await.unwrap();
        assert_eq!(
            next_batch(&mut changes, "the watched change").await,
            ["State:/Watched"]
        );
        changes.close().await;
    });
    Ok(())
}

fn scnotify_cancelling_the_notifications_releases_everything() -> Outcome {
    with_store(|session| async move {
        session
            .set_notification_keys(&["State:/K"], &[])
            .await
            .unwrap();
        let changes = session.notifications().await.unwrap();
        session.set("State:/K", b"1").await.unwrap();
        // Cancelled with a notification pending: its message and port are released.
        changes.close().await;
        let again = session
            .notifications()
            .await
            .expect("notifications can start again");
        again.close().await;
    });
    Ok(())
}

// ---- ipconfig-rpc -----------------------------------------------------------------------------

struct Em0;

#[async_trait]
impl IpconfigHandler for Em0 {
    async fn if_count(&self, _: CallContext) -> Result<i32, i32> {
        Ok(1)
    }
    async fn if_addr(&self, name: InterfaceName, _: CallContext) -> Result<IfAddr, i32> {
        Ok(if name.lookup_key() == b"em0" {
            IfAddr {
                addr: Ipv4Addr::new(10, 0, 2, 15),
                status: IpconfigStatus::SUCCESS,
            }
        } else {
            IfAddr {
                addr: Ipv4Addr::UNSPECIFIED,
                status: IpconfigStatus::NO_SERVER,
            }
        })
    }
}

fn with_ipconfig<F, Fut>(body: F)
where
    F: FnOnce(IpconfigClient) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let fx = Fixture::new();
    let rt = multi_thread_rt();
    rt.block_on(async {
        let (port, send) = fx.connect();
        let server = IpconfigServer::new(Em0)
            .spawn(port)
            .expect("ipconfigd serves");
        let client = IpconfigClient::builder(fx.client())
            .service_port(send)
            .open()
            .await
            .expect("a client on the given port");
        body(client).await;
        let served = within(HANG, server.close(), "ipconfigd to stop").await;
        drop(served.port);
    });
    drop(rt);
    fx.assert_no_leaks();
}

fn ipconfig_if_count_and_if_addr() -> Outcome {
    with_ipconfig(|client| async move {
        assert_eq!(within(HANG, client.if_count(), "if_count").await, Ok(1));
        let em0 = within(
            HANG,
            client.if_addr(InterfaceName::new("em0").unwrap()),
            "if_addr",
        )
        .await
        .unwrap();
        assert_eq!(em0.addr, Ipv4Addr::new(10, 0, 2, 15));
        assert_eq!(em0.status, IpconfigStatus::SUCCESS);
    });
    Ok(())
}

fn ipconfig_an_unknown_interface_is_no_server() -> Outcome {
    with_ipconfig(|client| async move {
        let em1 = within(
            HANG,
            client.if_addr(InterfaceName::new("em1").unwrap()),
            "if_addr",
        )
        .await
        .unwrap();
        assert_eq!(em1.status, IpconfigStatus::NO_SERVER);
    });
    Ok(())
}

fn ipconfig_a_bad_request_gets_an_error_reply_and_serving_goes_on() -> Outcome {
    with_ipconfig(|client| async move {
        // Routine 20000 (if_count) with 8 stray bytes: the server's size check refuses it.
        let err = within(
            HANG,
            client.mig().call(
                20000,
                bytes::Bytes::from(vec![0u8; 8]),
                &ReplyShape::simple(40),
            ),
            "the error reply",
        )
        .await
        .expect_err("a request of the wrong size");
        assert_eq!(err, MigError::BadArguments);
        let err = within(
            HANG,
            client
                .mig()
                .call(20999, bytes::Bytes::new(), &ReplyShape::simple(40)),
            "the error reply",
        )
        .await
        .expect_err("an unknown routine");
        assert_eq!(err, MigError::BadId);
        assert_eq!(
            within(HANG, client.if_count(), "if_count after").await,
            Ok(1)
        );
    });
    Ok(())
}

// ---- iokit-notify -----------------------------------------------------------------------------

fn event(kind: u32, id: u64, name: &str, class: &str) -> ioreg_test_event {
    let mut e = ioreg_test_event {
        kind,
        id,
        ..Default::default()
    };
    e.name[..name.len()].copy_from_slice(name.as_bytes());
    e.classname[..class.len()].copy_from_slice(class.as_bytes());
    e
}

async fn next_event(stream: &mut WatchStream, what: &str) -> DeviceEvent {
    match within(HANG, stream.next(), what)
        .await
        .expect("the watch is alive")
        .expect("no stream error")
    {
        WatchEvent::Device(event) => event,
        WatchEvent::Resynced(_) => panic!("{what}: a resync, but nothing overflowed"),
    }
}

/// Runs `body` with a notification port on the backend's registry and a second handle to the
/// registry to inject events with; skipped where the backend has no registry.
fn with_registry<F, Fut>(body: F) -> Outcome
where
    F: FnOnce(NotificationPort, Box<dyn iokit_notify::RegistryBackend>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let fx = Fixture::new();
    let (Some(for_port), Some(injector)) = (fx.registry(), fx.registry()) else {
        return Err(Skipped("no ioregistry on this backend"));
    };
    current_thread_rt().block_on(async {
        let port = NotificationPort::builder(fx.server())
            .registry_arc(Arc::from(for_port))
            .open()
            .await
            .expect("a notification port");
        body(port, injector).await;
    });
    fx.assert_no_leaks();
    Ok(())
}

fn iokit_an_arrival_and_its_departure_are_reported_and_unknown_departures_dropped() -> Outcome {
    with_registry(|port, registry| async move {
        let (snapshot, mut watch) = port
            .watch(
                &Criteria::all().name("cf_probe0"),
                EventKinds::ARRIVE_DEPART,
            )
            .unwrap();
        assert!(snapshot.is_empty());
        registry
            .test_event(&event(IOREG_EVENT_ARRIVE, 0x7e57, "cf_probe0", "cf_probe"))
            .unwrap();
        let ev = next_event(&mut watch, "the arrival").await;
        assert_eq!(
            (ev.kind, ev.id, ev.name.as_str()),
            (EventKind::Arrive, 0x7e57, "cf_probe0")
        );
        // A departure of a device this watch never reported is dropped (docs/iokit-notify.md §6 #3).
        registry
            .test_event(&event(IOREG_EVENT_DEPART, 0x7e58, "cf_probe0", "cf_probe"))
            .unwrap();
        registry
            .test_event(&event(IOREG_EVENT_DEPART, 0x7e57, "cf_probe0", "cf_probe"))
            .unwrap();
        let ev = next_event(&mut watch, "the departure").await;
        assert_eq!(
            (ev.kind, ev.id),
            (EventKind::Depart, 0x7e57),
            "only the known departure"
        );
        drop(watch);
        port.close().await;
    })
}

fn iokit_criteria_filter_events() -> Outcome {
    with_registry(|port, registry| async move {
        let (_, mut watch) = port
            .watch(&Criteria::all().class("cf_class_a"), EventKinds::ARRIVE)
            .unwrap();
        registry
            .test_event(&event(IOREG_EVENT_ARRIVE, 0x7e60, "b0", "cf_class_b"))
            .unwrap();
        registry
            .test_event(&event(IOREG_EVENT_ARRIVE, 0x7e61, "a0", "cf_class_a"))
            .unwrap();
        let ev = next_event(&mut watch, "the class-a arrival").await;
        assert_eq!(
            (ev.id, ev.class.as_str()),
            (0x7e61, "cf_class_a"),
            "class b was filtered out"
        );
        drop(watch);
        port.close().await;
    })
}

fn iokit_closing_the_port_ends_its_watches() -> Outcome {
    with_registry(|port, registry| async move {
        let (_, mut watch) = port
            .watch(&Criteria::all().name("cf_gone0"), EventKinds::ARRIVE)
            .unwrap();
        port.close().await;
        assert!(
            within(HANG, watch.next(), "the end of the watch")
                .await
                .is_none(),
            "the watch ended with its port"
        );
        // An event after the close goes nowhere (the kernel prunes the dead watch).
        registry
            .test_event(&event(IOREG_EVENT_ARRIVE, 0x7e70, "cf_gone0", ""))
            .unwrap();
        drop(registry);
    })
}

fn iokit_lookup_and_node_agree() -> Outcome {
    let fx = Fixture::new();
    let Some(registry) = fx.registry() else {
        return Err(Skipped("no ioregistry on this backend"));
    };
    let all = Criteria::all().to_raw().expect("the empty criteria");
    let ids = iokit_notify::lookup_all(&*registry, &all).expect("LOOKUP");
    assert!(!ids.is_empty(), "at least the registry's root");
    for &id in ids.iter().take(32) {
        let node = registry.node(id).expect("NODE of a looked-up id");
        assert_eq!(node.id, id);
    }
    assert_eq!(
        registry.node(u64::MAX).unwrap_err(),
        iokit_notify::RegistryError::NotFound
    );
    drop(registry);
    fx.assert_no_leaks();
    Ok(())
}
