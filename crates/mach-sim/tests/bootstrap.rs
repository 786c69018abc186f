//! The bootstrap name service: check-in, look-up, register, and what happens when a server
//! dies.

mod common;
use common::*;
use mach_sim::mach_abi::*;
use mach_sim::Kernel;

#[test]
fn check_in_gives_the_receive_right_and_look_up_a_send_right() {
    let k = Kernel::new();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let bs = k.bootstrap();
    assert_eq!(bs.look_up(&client, "svc"), Err(BOOTSTRAP_UNKNOWN_SERVICE));
    let p = bs.check_in(&server, "svc").unwrap();
    assert_eq!(server.port_type(p), Ok(MACH_PORT_TYPE_RECEIVE));
    let s = bs.look_up(&client, "svc").unwrap();
    assert_eq!(client.port_type(s), Ok(MACH_PORT_TYPE_SEND));
    assert_eq!(send(&client, s, MACH_MSG_TYPE_COPY_SEND, 3, &[]), 0);
    assert_eq!(expect_msg(&server, p).id(), 3);
    assert_eq!(bs.check_in(&server, "svc"), Err(BOOTSTRAP_SERVICE_ACTIVE));
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn a_dead_servers_service_is_unknown_until_a_new_check_in() {
    let k = Kernel::new();
    let bs = k.bootstrap();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    bs.check_in(&server, "svc").unwrap();
    server.terminate().unwrap();
    assert_eq!(bs.look_up(&client, "svc"), Err(BOOTSTRAP_UNKNOWN_SERVICE));
    let server2 = k.task_create("server2", 3, 0, 0);
    let p = bs.check_in(&server2, "svc").unwrap();
    let s = bs.look_up(&client, "svc").unwrap();
    assert_eq!(send(&client, s, MACH_MSG_TYPE_COPY_SEND, 1, &[]), 0);
    assert_eq!(expect_msg(&server2, p).id(), 1);
    client.port_deallocate(s).unwrap();
    server2.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn register_and_unregister() {
    let k = Kernel::new();
    let bs = k.bootstrap();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = server.port_allocate(MACH_PORT_RIGHT_RECEIVE).unwrap();
    assert_eq!(bs.register(&server, "reg", 99), Err(KERN_INVALID_NAME));
    let set = server.port_allocate(MACH_PORT_RIGHT_PORT_SET).unwrap();
    assert_eq!(bs.register(&server, "reg", set), Err(KERN_INVALID_RIGHT));
    bs.register(&server, "reg", p).unwrap();
    assert_eq!(bs.register(&server, "reg", p), Err(BOOTSTRAP_NAME_IN_USE));
    // Registration takes no right from the task.
    assert_eq!(server.port_type(p), Ok(MACH_PORT_TYPE_RECEIVE));
    let s = bs.look_up(&client, "reg").unwrap();
    assert_eq!(send(&client, s, MACH_MSG_TYPE_COPY_SEND, 4, &[]), 0);
    assert_eq!(expect_msg(&server, p).id(), 4);
    bs.unregister("reg").unwrap();
    assert_eq!(bs.unregister("reg"), Err(BOOTSTRAP_UNKNOWN_SERVICE));
    assert_eq!(bs.look_up(&client, "reg"), Err(BOOTSTRAP_UNKNOWN_SERVICE));
    client.port_deallocate(s).unwrap();
    server.port_close(p).unwrap();
    server.port_close(set).unwrap();
    k.assert_no_leaks();
}

#[test]
fn the_name_service_is_not_a_sender() {
    let k = Kernel::new();
    let bs = k.bootstrap();
    let server = k.task_create("server", 1, 0, 0);
    let client = k.task_create("client", 2, 0, 0);
    let p = bs.check_in(&server, "svc").unwrap();
    let s = bs.look_up(&client, "svc").unwrap();
    server
        .port_request_notification(
            p,
            MACH_NOTIFY_NO_SENDERS,
            0,
            p,
            MACH_MSG_TYPE_MAKE_SEND_ONCE,
        )
        .unwrap();
    client.port_deallocate(s).unwrap();
    // Still registered, yet no senders remain.
    assert_eq!(expect_msg(&server, p).id(), MACH_NOTIFY_NO_SENDERS);
    server.port_close(p).unwrap();
    k.assert_no_leaks();
}

#[test]
fn each_kernel_has_its_own_name_service() {
    let k1 = Kernel::new();
    let k2 = Kernel::new();
    let t1 = k1.task_create("t1", 1, 0, 0);
    let t2 = k2.task_create("t2", 1, 0, 0);
    let p = k1.bootstrap().check_in(&t1, "svc").unwrap();
    assert_eq!(
        k2.bootstrap().look_up(&t2, "svc"),
        Err(BOOTSTRAP_UNKNOWN_SERVICE)
    );
    t1.port_close(p).unwrap();
    k1.assert_no_leaks();
    k2.assert_no_leaks();
}
