//! A stream made where no runtime with IO is available is an error, never a panic.
#![cfg(mach_backend = "sim")]
// Sim-only: the kernel of its own is for the leak check; the rule itself is backend-free.

use mach_async::mach_sim::Kernel;
use mach_async::{Error, MachRecvStream, ReceiveRight, Space};

#[test]
fn a_runtime_without_io_is_no_runtime() {
    let kernel = Kernel::new();
    let space = Space::from_task(kernel.task_create("t", 1, 0, 0));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let result = rt.block_on(async { MachRecvStream::new(ReceiveRight::new_in(&space).unwrap()) });
    assert!(matches!(result, Err(Error::NoRuntime(_))), "{result:?}");
    drop(result);
    kernel.assert_no_leaks();
}

#[test]
fn no_runtime_at_all_is_no_runtime() {
    let kernel = Kernel::new();
    let space = Space::from_task(kernel.task_create("t", 1, 0, 0));
    let result = MachRecvStream::new(ReceiveRight::new_in(&space).unwrap());
    assert!(matches!(result, Err(Error::NoRuntime(_))), "{result:?}");
    drop(result);
    kernel.assert_no_leaks();
}
