//! The C exports' panic guard: a panic inside the simulated kernel during a C call (here a
//! fault-injection closure that panics, standing in for a simulator bug) comes back as the
//! call's documented failure code instead of unwinding into C (which aborts the process). The
//! source audit `c-abi-tests/tests/audit_exports.rs` checks that every export has such a guard.

use mach_sim::ffi::libmach::{mach_msg, mach_port_allocate, mach_port_insert_right};
use mach_sim::mach_abi::*;
use mach_sim::{FaultAction, Kernel, MsgMatch};

#[test]
fn a_panic_inside_mach_msg_becomes_its_failure_code() {
    let kernel = Kernel::new();
    let task = kernel.task_create("guarded", 1, 0, 0);
    let _entered = task.enter();
    let mut port: mach_port_name_t = 0;
    // SAFETY: `port` is a valid out-pointer.
    let kr = unsafe { mach_port_allocate(0, MACH_PORT_RIGHT_RECEIVE, &mut port) };
    assert_eq!(kr, KERN_SUCCESS);
    let kr = mach_port_insert_right(0, port, port, MACH_MSG_TYPE_MAKE_SEND);
    assert_eq!(kr, KERN_SUCCESS);

    let hook = kernel.faults().on_deliver(
        MsgMatch::any().id(77),
        FaultAction::call(|| panic!("injected simulator bug (expected by this test)")),
    );
    let mut msg = mach_msg_header_t {
        msgh_bits: MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0),
        msgh_size: std::mem::size_of::<mach_msg_header_t>() as u32,
        msgh_remote_port: port,
        msgh_local_port: 0,
        msgh_voucher_port: 0,
        msgh_id: 77,
    };
    // SAFETY: `msg` is a whole header-only message of `msgh_size` bytes.
    let mr = unsafe {
        mach_msg(
            &mut msg,
            MACH_SEND_MSG,
            msg.msgh_size,
            0,
            0,
            MACH_MSG_TIMEOUT_NONE,
            0,
        )
    };
    assert_eq!(hook.fired(), 1, "the panicking hook did not run");
    assert_eq!(
        mr, MACH_SEND_NO_BUFFER,
        "a panic during a send must come back as MACH_SEND_NO_BUFFER"
    );

    // The kernel is still usable after the caught panic: the message was queued before the
    // hook ran; receive it, then release the port.
    let mut rcv = [0u64; 16];
    // SAFETY: `rcv` is 128 writable, aligned bytes.
    let mr = unsafe {
        mach_msg(
            rcv.as_mut_ptr().cast(),
            MACH_RCV_MSG | MACH_RCV_TIMEOUT,
            0,
            128,
            port,
            0,
            0,
        )
    };
    assert_eq!(mr, MACH_MSG_SUCCESS);
    drop(_entered);
    task.port_mod_refs(port, MACH_PORT_RIGHT_RECEIVE, -1)
        .unwrap();
    task.port_deallocate(port).ok();
    task.terminate().unwrap();
    kernel.assert_no_leaks();
}
