//! Small public conversions (issue 16): rights in the calling thread's current space, a
//! `PortRight` asked for the wrong kind, and the codes and sources errors carry.
#![cfg(any(feature = "sim", not(any(target_os = "freebsd", target_os = "macos"))))]

mod common;

use common::*;
use mach_async::mach_sim::mach_abi::KERN_INVALID_NAME;
use mach_async::{Error, PortRight, PortSet, ReceiveRight, SendOnceRight, Space};

/// `PortSet::new` and `from_raw` use the thread's current task (`Task::enter`).
#[test]
fn rights_in_the_current_space_belong_to_the_entered_task() {
    let fx = fixture();
    {
        let _entered = fx.server_task().enter();
        let set = PortSet::new().unwrap();
        assert_eq!(set.space(), &fx.server);
        let name = ReceiveRight::new_in(&Space::current()).unwrap().into_raw();
        // SAFETY: `name` is the receive right just released by `into_raw` in this space.
        let port = unsafe { ReceiveRight::from_raw(name) };
        assert_eq!(port.space(), &fx.server);
        drop((set, port));
    }
    fx.kernel.assert_no_leaks();
}

/// Asking a `PortRight` for another kind gives `None` (the right is dropped, i.e. released).
#[test]
fn a_port_right_of_the_wrong_kind_converts_to_none() {
    let fx = fixture();
    current_thread_rt().block_on(async {
        let port = ReceiveRight::new_in(&fx.server).unwrap();
        let once: SendOnceRight = port.make_send_once().unwrap();
        let right = PortRight::from(once);
        assert!(right.into_send().is_none());
        let right = PortRight::from(port.make_send_once().unwrap());
        assert!(right.into_receive().is_none());
        let right = PortRight::from(port.make_send().unwrap());
        assert!(right.into_send_once().is_none());
        let right = PortRight::from(ReceiveRight::new_in(&fx.server).unwrap());
        assert!(right.into_send().is_none());
        drop(port);
    });
    fx.kernel.assert_no_leaks();
}

/// The codes and sources errors carry.
#[test]
fn errors_carry_their_code_and_source() {
    let e = Error::Kern {
        op: "mach_port_destroy",
        kr: KERN_INVALID_NAME,
    };
    assert_eq!(e.code(), Some(KERN_INVALID_NAME));
    assert_eq!(Error::TimedOut.code(), None);
    let parse = mach_async::raw_message::parse(&[0u8; 4], false).unwrap_err();
    let e: Error = parse.clone().into();
    assert!(matches!(&e, Error::Parse(p) if *p == parse));
    let source = std::error::Error::source(&e).expect("the parse error");
    assert_eq!(source.to_string(), parse.to_string());
    assert!(std::error::Error::source(&Error::Ended).is_none());
}
