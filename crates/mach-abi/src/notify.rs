//! Kernel notification ids and message layouts (`<mach/notify.h>`).
//!
//! Notifications are sent by the kernel to a send-once right: received bits local = 18,
//! remote = 0; they bypass the queue limit. The `msgh_size` seen by the receiver is the struct
//! size below (trailer not included).

use crate::message::{
    mach_msg_body_t, mach_msg_header_t, mach_msg_id_t, mach_msg_port_descriptor_t,
};
use crate::ndr::NDR_record_t;
use crate::port::{mach_port_mscount_t, mach_port_name_t};

/// Base of notification ids (octal 0100).
pub const MACH_NOTIFY_FIRST: mach_msg_id_t = 64;
/// A send-once or dead-name request's name was deleted (carries the name).
pub const MACH_NOTIFY_PORT_DELETED: mach_msg_id_t = 65;
/// Send is possible again (carries the name).
pub const MACH_NOTIFY_SEND_POSSIBLE: mach_msg_id_t = 66;
/// A receive right was destroyed; it is returned in a port descriptor.
pub const MACH_NOTIFY_PORT_DESTROYED: mach_msg_id_t = 69;
/// No more senders (carries the make-send count).
pub const MACH_NOTIFY_NO_SENDERS: mach_msg_id_t = 70;
/// A send-once right was destroyed unused (MIG: `MIG_SERVER_DIED`).
pub const MACH_NOTIFY_SEND_ONCE: mach_msg_id_t = 71;
/// A send right became a dead name (carries the name and an extra dead-name uref).
pub const MACH_NOTIFY_DEAD_NAME: mach_msg_id_t = 72;
/// Last notification id (octal 0115).
pub const MACH_NOTIFY_LAST: mach_msg_id_t = 77;

/// Port-deleted notification (36 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_port_deleted_notification_t {
    /// Header (`msgh_id` = 65).
    pub not_header: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// The deleted name.
    pub not_port: mach_port_name_t,
}

/// Send-possible notification (36 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_send_possible_notification_t {
    /// Header (`msgh_id` = 66).
    pub not_header: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// The name that can be sent to.
    pub not_port: mach_port_name_t,
}

/// Port-destroyed notification (40 bytes, complex): the receive right in a port descriptor.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_port_destroyed_notification_t {
    /// Header (`msgh_id` = 69, COMPLEX).
    pub not_header: mach_msg_header_t,
    /// Body (descriptor count 1).
    pub not_body: mach_msg_body_t,
    /// The receive right (`PORT_RECEIVE`).
    pub not_port: mach_msg_port_descriptor_t,
}

/// No-senders notification (36 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_no_senders_notification_t {
    /// Header (`msgh_id` = 70).
    pub not_header: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// Make-send count at the time of the notification.
    pub not_count: mach_port_mscount_t,
}

/// Send-once notification (24 bytes: a bare header).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_send_once_notification_t {
    /// Header (`msgh_id` = 71).
    pub not_header: mach_msg_header_t,
}

/// Dead-name notification (36 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct mach_dead_name_notification_t {
    /// Header (`msgh_id` = 72).
    pub not_header: mach_msg_header_t,
    /// NDR record.
    pub NDR: NDR_record_t,
    /// The dead name (an extra dead-name uref arrives with it; deallocate it).
    pub not_port: mach_port_name_t,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<mach_port_deleted_notification_t>() == 36);
    assert!(offset_of!(mach_port_deleted_notification_t, NDR) == 24);
    assert!(offset_of!(mach_port_deleted_notification_t, not_port) == 32);

    assert!(size_of::<mach_send_possible_notification_t>() == 36);
    assert!(offset_of!(mach_send_possible_notification_t, NDR) == 24);
    assert!(offset_of!(mach_send_possible_notification_t, not_port) == 32);

    assert!(size_of::<mach_port_destroyed_notification_t>() == 40);
    assert!(offset_of!(mach_port_destroyed_notification_t, not_body) == 24);
    assert!(offset_of!(mach_port_destroyed_notification_t, not_port) == 28);

    assert!(size_of::<mach_no_senders_notification_t>() == 36);
    assert!(offset_of!(mach_no_senders_notification_t, NDR) == 24);
    assert!(offset_of!(mach_no_senders_notification_t, not_count) == 32);

    assert!(size_of::<mach_send_once_notification_t>() == 24);

    assert!(size_of::<mach_dead_name_notification_t>() == 36);
    assert!(offset_of!(mach_dead_name_notification_t, NDR) == 24);
    assert!(offset_of!(mach_dead_name_notification_t, not_port) == 32);
};
