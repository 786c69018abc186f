//! The NDR (Network Data Representation) record MIG writes after the header (`<mach/ndr.h>`).

/// 8-byte NDR record, one byte per field.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NDR_record_t {
    /// MIG version (0).
    pub mig_vers: u8,
    /// Interface version (0).
    pub if_vers: u8,
    /// Reserved (0).
    pub reserved1: u8,
    /// MIG encoding (0).
    pub mig_encoding: u8,
    /// Integer representation ([`NDR_INT_LITTLE_ENDIAN`] = 1 on every supported host).
    pub int_rep: u8,
    /// Character representation ([`NDR_CHAR_ASCII`] = 0).
    pub char_rep: u8,
    /// Float representation ([`NDR_FLOAT_IEEE`] = 0).
    pub float_rep: u8,
    /// Reserved (0).
    pub reserved2: u8,
}

/// NDR protocol 2.0 (`mig_vers`, `if_vers`, `mig_encoding`).
pub const NDR_PROTOCOL_2_0: u8 = 0;
/// Big-endian integers.
pub const NDR_INT_BIG_ENDIAN: u8 = 0;
/// Little-endian integers.
pub const NDR_INT_LITTLE_ENDIAN: u8 = 1;
/// ASCII characters.
pub const NDR_CHAR_ASCII: u8 = 0;
/// IEEE floats.
pub const NDR_FLOAT_IEEE: u8 = 0;

/// The record every sender writes on little-endian hosts: bytes `00 00 00 00 01 00 00 00`.
/// Receivers ignore it in practice; always write this value.
pub const NDR_record: NDR_record_t = NDR_record_t {
    mig_vers: NDR_PROTOCOL_2_0,
    if_vers: NDR_PROTOCOL_2_0,
    reserved1: 0,
    mig_encoding: NDR_PROTOCOL_2_0,
    int_rep: NDR_INT_LITTLE_ENDIAN,
    char_rep: NDR_CHAR_ASCII,
    float_rep: NDR_FLOAT_IEEE,
    reserved2: 0,
};

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<NDR_record_t>() == 8);
    assert!(align_of::<NDR_record_t>() == 1);
    assert!(offset_of!(NDR_record_t, int_rep) == 4);
    assert!(offset_of!(NDR_record_t, reserved2) == 7);
};
