//! The byte view of a received [`Message`] that the MIG checks run on.
//!
//! A [`Message`] is already parsed (rights adopted, OOL copied); the checks of `mig.md` §8/§9
//! are specified over the received buffer. [`received_bytes`] rebuilds that buffer: the header as
//! received (bits, size, reply right name, local name, id), the descriptors and inline data in
//! wire form, and the trailer at `(msgh_size + 3) & ~3`.

use crate::message::Message;
use crate::mig::wire::{trailer_offset, write_header};
use mach_abi::mach_msg_header_t;

/// The header of a received message as the kernel wrote it.
pub fn received_header(msg: &Message) -> mach_msg_header_t {
    mach_msg_header_t {
        msgh_bits: msg.bits(),
        msgh_size: msg.size(),
        msgh_remote_port: msg.reply().map_or(0, |slot| slot.name()),
        msgh_local_port: msg.local_port(),
        msgh_voucher_port: 0,
        msgh_id: msg.id(),
    }
}

/// The received buffer of `msg`: message bytes (`msgh_size` of them, padded to 4) followed by
/// the trailer, if the message has one.
pub fn received_bytes(msg: &Message) -> Vec<u8> {
    let header = received_header(msg);
    let mut bytes = msg.to_wire();
    if bytes.len() < 24 {
        bytes.resize(24, 0);
    }
    write_header(&mut bytes, &header);
    let end = trailer_offset(header.msgh_size);
    bytes.resize(end.max(24), 0);
    if let Some(trailer) = msg.trailer() {
        bytes.extend_from_slice(trailer.0.as_bytes());
    }
    bytes
}
