//! Security and audit tokens (`<mach/message.h>`, `<bsm/libbsm.h>` accessors).
//!
//! Layout of `audit_token_t` (`audit_token_to_au32` order, same on Apple and NextBSD):
//! `val[0]` auid · `val[1]` euid · `val[2]` egid · `val[3]` ruid · `val[4]` rgid · `val[5]` pid ·
//! `val[6]` asid · `val[7]` pid version (NextBSD: 0).
//!
//! On NextBSD the token is stamped once per task and kernel-built messages carry all zeros
//! (which decodes as euid 0 / pid 0): never authorise on audit tokens there.

/// Sender security token (8 bytes): `val[0]` uid, `val[1]` gid on Apple.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct security_token_t {
    /// Raw token words.
    pub val: [u32; 2],
}

/// Sender audit token (32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct audit_token_t {
    /// Raw token words (see the module docs for the order).
    pub val: [u32; 8],
}

/// Security token of the kernel (all zeros).
pub const KERNEL_SECURITY_TOKEN: security_token_t = security_token_t { val: [0; 2] };
/// Audit token of the kernel (all zeros).
pub const KERNEL_AUDIT_TOKEN: audit_token_t = audit_token_t { val: [0; 8] };

/// Audit user id (`val[0]`).
#[inline]
pub const fn audit_token_to_auid(token: audit_token_t) -> u32 {
    token.val[0]
}

/// Effective user id (`val[1]`).
#[inline]
pub const fn audit_token_to_euid(token: audit_token_t) -> u32 {
    token.val[1]
}

/// Effective group id (`val[2]`).
#[inline]
pub const fn audit_token_to_egid(token: audit_token_t) -> u32 {
    token.val[2]
}

/// Real user id (`val[3]`).
#[inline]
pub const fn audit_token_to_ruid(token: audit_token_t) -> u32 {
    token.val[3]
}

/// Real group id (`val[4]`).
#[inline]
pub const fn audit_token_to_rgid(token: audit_token_t) -> u32 {
    token.val[4]
}

/// Process id (`val[5]`).
#[inline]
pub const fn audit_token_to_pid(token: audit_token_t) -> i32 {
    token.val[5] as i32
}

/// Audit session id (`val[6]`).
#[inline]
pub const fn audit_token_to_asid(token: audit_token_t) -> i32 {
    token.val[6] as i32
}

/// Pid version (`val[7]`; 0 on NextBSD).
#[inline]
pub const fn audit_token_to_pidversion(token: audit_token_t) -> i32 {
    token.val[7] as i32
}

const _: () = {
    use core::mem::{align_of, size_of};
    assert!(size_of::<security_token_t>() == 8);
    assert!(align_of::<security_token_t>() == 4);
    assert!(size_of::<audit_token_t>() == 32);
    assert!(align_of::<audit_token_t>() == 4);
};
