//! The error text users read (issue 16): failed calls name the routine and the Mach code by name.

use mach_abi::{BOOTSTRAP_SERVICE_ACTIVE, MACH_SEND_INVALID_DEST, MIG_SERVER_DIED};
use scnotify::store_messages::ReplyError;
use scnotify::{Error, ServerError};

#[test]
fn rpc_check_in_and_reply_errors_name_the_code() {
    let e = Error::Rpc {
        routine: "configget",
        kr: MIG_SERVER_DIED,
    };
    assert_eq!(e.to_string(), "configget failed: MIG_SERVER_DIED (-308)");
    let e = Error::Rpc {
        routine: "notifyadd",
        kr: MACH_SEND_INVALID_DEST,
    };
    assert_eq!(
        e.to_string(),
        "notifyadd failed: MACH_SEND_INVALID_DEST (0x10000003)"
    );
    assert_eq!(
        ServerError::CheckIn(BOOTSTRAP_SERVICE_ACTIVE).to_string(),
        "bootstrap_check_in failed: BOOTSTRAP_SERVICE_ACTIVE (0x44f)"
    );
    assert_eq!(
        ReplyError::Remote(MIG_SERVER_DIED).to_string(),
        "server returned MIG_SERVER_DIED (-308)"
    );
    let e = Error::Mach(mach_async::Error::Kern {
        op: "mach_port_allocate",
        kr: mach_abi::KERN_RESOURCE_SHORTAGE,
    });
    assert_eq!(
        e.to_string(),
        "mach_port_allocate failed: KERN_RESOURCE_SHORTAGE (0x6)"
    );
}
