//! Between [`Message`]s and the bytes MIG code speaks.
//!
//! A received [`Message`] is already parsed (rights adopted, OOL copied); the checks of
//! `mig.md` §8/§9 are specified over the received buffer. [`received_bytes`] rebuilds that
//! buffer: the header as received (bits, size, reply right name, local name, id), the
//! descriptors and inline data in wire form (a port descriptor that carried no right keeps the
//! name and received type the kernel wrote), and the trailer at `(msgh_size + 3) & ~3`.
//!
//! The other way, [`message_from_encoded`] turns a request a protocol encoder produced as a whole
//! message (header, descriptors, inline data) into an outgoing [`Message`] that owns the rights
//! to put in its port descriptors.

use crate::message::{Descriptor, Message, MessageBuilder, PortSlot};
use crate::mig::codec::{trailer_offset, write_header, write_u32, FIRST_DESCRIPTOR_OFFSET};
use crate::mig::error::MigError;
use crate::raw_message::{self, RawDescriptor, OOL_DESCRIPTOR_SIZE, PORT_DESCRIPTOR_SIZE};
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
    restore_rightless_ports(msg, &mut bytes);
    let end = trailer_offset(header.msgh_size);
    bytes.resize(end.max(24), 0);
    if let Some(trailer) = msg.trailer() {
        bytes.extend_from_slice(trailer.0.as_bytes());
    }
    bytes
}

/// Writes back the name and received type of every port descriptor that arrived without a
/// right (the message itself holds `None` there, which encodes as name 0, type 0). Without this
/// a null port sent as `COPY_SEND` (received type 17) would fail a generated server's label
/// check, where a C server passes `MACH_PORT_NULL` to its routine.
fn restore_rightless_ports(msg: &Message, bytes: &mut [u8]) {
    let mut offset = FIRST_DESCRIPTOR_OFFSET;
    for (index, descriptor) in msg.descriptors().iter().enumerate() {
        let size = match descriptor {
            Descriptor::Port(_) => PORT_DESCRIPTOR_SIZE,
            Descriptor::Ool(_) | Descriptor::OolPorts(_) => OOL_DESCRIPTOR_SIZE,
        };
        if let (Descriptor::Port(None), Some((name, received_type))) =
            (descriptor, msg.rightless_port(index))
        {
            if let Some(slot) = bytes.get_mut(offset..offset + PORT_DESCRIPTOR_SIZE) {
                write_u32(slot, 0, name);
                slot[10] = received_type as u8;
            }
        }
        offset += size;
    }
}

/// An outgoing message from a whole encoded MIG message (`encoded` starts with the 24-byte
/// header; `msgh_size` bounds it): the id and the inline data after the descriptors are taken
/// from it, and its port descriptors, in order, are filled with `ports`. The header's port
/// fields and the descriptors' names and dispositions are ignored: each [`PortSlot`] carries its
/// own (`Right` moves, `CopySend` / `MakeSend` / `MakeSendOnce` by name; a null port is
/// `CopySend(MACH_PORT_NULL)`). The reply port is set by the client at call time.
///
/// Errors with [`MigError::BadArguments`] when `encoded` is not a well-formed message, carries
/// an out-of-line descriptor, or has a different number of port descriptors than `ports`.
/// On error the rights in `ports` are released.
pub fn message_from_encoded(
    encoded: &[u8],
    ports: impl IntoIterator<Item = PortSlot>,
) -> Result<Message, MigError> {
    let raw = raw_message::parse(encoded, false).map_err(|_| MigError::BadArguments)?;
    let ports: Vec<PortSlot> = ports.into_iter().collect();
    let all_ports = raw
        .descriptors
        .iter()
        .all(|d| matches!(d, RawDescriptor::Port { .. }));
    if !all_ports || raw.descriptors.len() != ports.len() {
        return Err(MigError::BadArguments);
    }
    let builder = ports
        .into_iter()
        .fold(MessageBuilder::new(raw.id), MessageBuilder::port);
    Ok(builder.body(raw.body).build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mig::codec::{read_u32, write_header};
    use mach_abi::{MACH_MSGH_BITS_COMPLEX, MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND};
    use proptest::prelude::*;

    /// A complex message with one port descriptor (name 9, MOVE_SEND) and 8 inline bytes.
    fn encoded_with_port() -> Vec<u8> {
        let mut bytes = vec![0u8; 48];
        write_header(
            &mut bytes,
            &mach_msg_header_t {
                msgh_bits: 0x1513 | MACH_MSGH_BITS_COMPLEX,
                msgh_size: 48,
                msgh_remote_port: 0,
                msgh_local_port: 0,
                msgh_voucher_port: 0,
                msgh_id: 4242,
            },
        );
        write_u32(&mut bytes, 24, 1);
        write_u32(&mut bytes, 28, 9);
        bytes[38] = 17;
        bytes[39] = 0;
        bytes[40..48].copy_from_slice(b"abcdefgh");
        bytes
    }

    #[test]
    fn encoded_message_takes_id_body_and_the_given_ports() {
        let msg = message_from_encoded(&encoded_with_port(), [PortSlot::CopySend(0)]).unwrap();
        assert_eq!(msg.id(), 4242);
        assert_eq!(&msg.body()[..], b"abcdefgh");
        assert_eq!(msg.descriptors().len(), 1);
        let wire = msg.to_wire();
        // The slot's disposition wins over the encoded one; the name is the slot's.
        assert_eq!(wire[38], MACH_MSG_TYPE_COPY_SEND as u8);
        assert_eq!(read_u32(&wire, 28), Some(0));
        assert_eq!(wire.len(), 48);
    }

    #[test]
    fn encoded_message_needs_one_slot_per_port_descriptor() {
        let encoded = encoded_with_port();
        assert_eq!(
            message_from_encoded(&encoded, []).unwrap_err(),
            MigError::BadArguments
        );
        assert_eq!(
            message_from_encoded(&encoded, [PortSlot::MakeSend(3), PortSlot::MakeSend(4)])
                .unwrap_err(),
            MigError::BadArguments
        );
        let simple = &encoded[..24];
        let mut simple = simple.to_vec();
        simple[3] = 0;
        simple[4] = 24;
        let msg = message_from_encoded(&simple, []).unwrap();
        assert!(msg.descriptors().is_empty());
        assert_eq!(
            message_from_encoded(&simple, [PortSlot::MakeSend(3)]).unwrap_err(),
            MigError::BadArguments
        );
        let made = message_from_encoded(&encoded, [PortSlot::MakeSend(3)]).unwrap();
        assert_eq!(made.to_wire()[38], MACH_MSG_TYPE_MAKE_SEND as u8);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_give_a_message_or_bad_arguments(
            bytes in proptest::collection::vec(any::<u8>(), 0..96),
            ports in 0usize..3,
        ) {
            let slots = (0..ports).map(|_| PortSlot::CopySend(0));
            match message_from_encoded(&bytes, slots) {
                Ok(msg) => prop_assert_eq!(msg.descriptors().len(), ports),
                Err(e) => prop_assert_eq!(e, MigError::BadArguments),
            }
        }
    }
}
