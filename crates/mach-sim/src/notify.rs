//! Kernel notifications (`mach-abi.md` §8): kernel-built messages sent through a send-once
//! right (so they bypass the queue limit), carrying the kernel's identity (sender `{0, 1}`, zero
//! audit token).

use crate::msg::{KDesc, KMsg, KPort, KRight};
use crate::state::{PortId, State};
use crate::Name;
use mach_abi::*;

/// `NDR_record` as bytes (little-endian integers).
pub(crate) const NDR_BYTES: [u8; 8] = [0, 0, 0, 0, 1, 0, 0, 0];

impl State {
    fn post_notification(
        &mut self,
        target: PortId,
        id: mach_msg_id_t,
        body: &[u8],
        descs: Vec<(usize, KDesc)>,
    ) {
        self.post(KMsg::kernel(KRight::SendOnce(target), id, body, descs));
    }

    /// `MACH_NOTIFY_NO_SENDERS` (36 bytes: NDR, `not_count` = make-send count).
    pub(crate) fn post_notification_no_senders(&mut self, target: PortId, mscount: u32) {
        let mut body = NDR_BYTES.to_vec();
        body.extend_from_slice(&mscount.to_le_bytes());
        self.post_notification(target, MACH_NOTIFY_NO_SENDERS, &body, Vec::new());
    }

    /// `MACH_NOTIFY_SEND_ONCE` (a bare 24-byte header).
    pub(crate) fn post_notification_send_once(&mut self, target: PortId) {
        self.post_notification(target, MACH_NOTIFY_SEND_ONCE, &[], Vec::new());
    }

    /// `MACH_NOTIFY_DEAD_NAME` / `MACH_NOTIFY_PORT_DELETED` (36 bytes: NDR, `not_port`).
    pub(crate) fn post_notification_name(&mut self, target: PortId, id: mach_msg_id_t, name: Name) {
        let mut body = NDR_BYTES.to_vec();
        body.extend_from_slice(&name.to_le_bytes());
        self.post_notification(target, id, &body, Vec::new());
    }

    /// `MACH_NOTIFY_PORT_DESTROYED` (40 bytes, complex: one port descriptor carrying the
    /// receive right of `port`).
    pub(crate) fn post_notification_port_destroyed(&mut self, target: PortId, port: PortId) {
        let mut body = vec![0u8; 16];
        body[0..4].copy_from_slice(&1u32.to_le_bytes());
        body[4 + 10] = MACH_MSG_TYPE_PORT_RECEIVE as u8;
        body[4 + 11] = MACH_MSG_PORT_DESCRIPTOR;
        let desc = KDesc::Port(KPort {
            right: KRight::Receive(port),
            ty: MACH_MSG_TYPE_PORT_RECEIVE,
        });
        self.post_notification(target, MACH_NOTIFY_PORT_DESTROYED, &body, vec![(28, desc)]);
    }
}
