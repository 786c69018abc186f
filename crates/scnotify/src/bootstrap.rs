//! The bootstrap name service, as far as this crate needs it: `bootstrap_look_up` of configd's
//! service (clients) and `bootstrap_check_in` (the store server). Both are
//! [`mach_async::bootstrap`]'s; this module keeps the `kern_return_t` the C ABI reports.

use mach_abi::kern_return_t;
use mach_async::{ReceiveRight, SendRight, Space};

/// `BOOTSTRAP_UNKNOWN_SERVICE`.
pub const UNKNOWN_SERVICE: kern_return_t = mach_abi::BOOTSTRAP_UNKNOWN_SERVICE;

fn code(e: mach_async::Error) -> kern_return_t {
    e.code().unwrap_or(mach_abi::KERN_FAILURE)
}

/// `bootstrap_look_up(name)` in `space`.
pub fn look_up(space: &Space, name: &str) -> Result<SendRight, kern_return_t> {
    mach_async::bootstrap::look_up(space, name).map_err(code)
}

/// `bootstrap_check_in(name)` in `space`.
pub fn check_in(space: &Space, name: &str) -> Result<ReceiveRight, kern_return_t> {
    mach_async::bootstrap::check_in(space, name).map_err(code)
}
