//! Authorization of privileged routines (`ipconfig-rpc.md` §5), failing closed.
//!
//! Apple's server lets only root (`euid == 0`, read from the request's audit token) call the
//! routines that change configuration. On NextBSD the audit token cannot be trusted
//! (`mig.md` §11, `mach-abi.md` §6.3): it may be all zeros — which decodes as euid 0 and pid 0,
//! i.e. "root" — and where the kernel fills it, it is a fork-time snapshot that survives
//! `setuid`. So the `euid == 0` rule is gated behind [`RootPolicy::TrustAuditToken`], which is
//! off by default on every platform except macOS, and even when it is on:
//! - a request without an audit trailer is refused;
//! - the all-zero (kernel) token is refused;
//! - pid 0 is refused.
//!
//! A refusal is reported as [`IpconfigStatus::PERMISSION_DENIED`] with `KERN_SUCCESS`, the
//! convention of the protocol: transport errors travel as the kern_return, application results
//! (refusals included) as the status.
//!
//! The two routines NextBSD implements (`if_count`, `if_addr`) need no authorization; these
//! helpers are for routines added later ([`apple_restriction`] lists Apple's rules).

use mach_abi::{audit_token_t, mach_msg_id_t};

use crate::ipconfig_messages::IpconfigStatus;

/// Whether the platform can vouch for audit tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RootPolicy {
    /// Never grant a root-only routine (NextBSD until its kernel maintains real credentials).
    DenyAll,
    /// Grant when the audit token says euid 0 (macOS), subject to the fail-closed rules above.
    TrustAuditToken,
}

impl Default for RootPolicy {
    /// [`RootPolicy::TrustAuditToken`] on macOS, [`RootPolicy::DenyAll`] everywhere else.
    fn default() -> Self {
        if cfg!(target_os = "macos") {
            RootPolicy::TrustAuditToken
        } else {
            RootPolicy::DenyAll
        }
    }
}

/// Why a caller was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The policy grants nothing ([`RootPolicy::DenyAll`]).
    #[error("the platform cannot vouch for audit tokens")]
    Untrusted,
    /// The request carried no audit token (no or a short trailer).
    #[error("no audit token")]
    NoToken,
    /// The token is all zeros (the kernel's token, or a task created without credentials).
    #[error("all-zero audit token")]
    ZeroToken,
    /// The token names pid 0.
    #[error("audit token names pid 0")]
    PidZero,
    /// The caller's effective uid is not 0.
    #[error("caller euid {0} is not root")]
    NotRoot(u32),
}

impl Denied {
    /// The status a routine answers with.
    pub const fn status(self) -> IpconfigStatus {
        IpconfigStatus::PERMISSION_DENIED
    }
}

/// Decides whether the sender of a request may call a root-only routine.
pub fn authorize_root(token: Option<&audit_token_t>, policy: RootPolicy) -> Result<(), Denied> {
    if policy == RootPolicy::DenyAll {
        return Err(Denied::Untrusted);
    }
    let token = token.ok_or(Denied::NoToken)?;
    if token.val == [0; 8] {
        return Err(Denied::ZeroToken);
    }
    if mach_abi::audit_token_to_pid(*token) == 0 {
        return Err(Denied::PidZero);
    }
    match mach_abi::audit_token_to_euid(*token) {
        0 => Ok(()),
        euid => Err(Denied::NotRoot(euid)),
    }
}

/// What Apple's server requires of the caller of a routine (bootp-494.60.3 `server.c`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Restriction {
    /// No check.
    None,
    /// `euid == 0`.
    Root,
    /// `euid == 0` or (not on macOS) the `com.apple.IPConfigurationService` entitlement, which
    /// this crate cannot check: treated as [`Restriction::Root`].
    RootOrEntitlement,
    /// Always refused (`set_verbose`).
    AlwaysDenied,
}

/// Apple's restriction for routine id `id` (Apple numbering).
pub const fn apple_restriction(id: mach_msg_id_t) -> Restriction {
    match id {
        20004 | 20015 => Restriction::Root,
        20007 | 20010 | 20011 | 20013 | 20014 => Restriction::RootOrEntitlement,
        20005 => Restriction::AlwaysDenied,
        _ => Restriction::None,
    }
}

/// Applies `restriction` for a caller with `token` under `policy`.
pub fn authorize(
    restriction: Restriction,
    token: Option<&audit_token_t>,
    policy: RootPolicy,
) -> Result<(), Denied> {
    match restriction {
        Restriction::None => Ok(()),
        Restriction::Root | Restriction::RootOrEntitlement => authorize_root(token, policy),
        Restriction::AlwaysDenied => Err(Denied::Untrusted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(euid: u32, pid: u32) -> audit_token_t {
        audit_token_t {
            val: [0, euid, 0, euid, 0, pid, 0, 0],
        }
    }

    const TRUST: RootPolicy = RootPolicy::TrustAuditToken;

    #[test]
    fn root_with_a_real_token_is_granted_when_trusted() {
        assert_eq!(authorize_root(Some(&token(0, 123)), TRUST), Ok(()));
    }

    #[test]
    fn non_root_is_refused() {
        assert_eq!(
            authorize_root(Some(&token(501, 123)), TRUST),
            Err(Denied::NotRoot(501))
        );
    }

    #[test]
    fn fails_closed_without_a_real_token() {
        assert_eq!(authorize_root(None, TRUST), Err(Denied::NoToken));
        // All zeros decodes as euid 0 / pid 0 but must not count as root.
        assert_eq!(
            authorize_root(Some(&audit_token_t::default()), TRUST),
            Err(Denied::ZeroToken)
        );
        let pid0 = audit_token_t {
            val: [0, 0, 20, 0, 20, 0, 0, 0],
        };
        assert_eq!(authorize_root(Some(&pid0), TRUST), Err(Denied::PidZero));
    }

    #[test]
    fn deny_all_grants_nothing() {
        assert_eq!(
            authorize_root(Some(&token(0, 123)), RootPolicy::DenyAll),
            Err(Denied::Untrusted)
        );
    }

    #[test]
    fn default_policy_is_off_except_on_macos() {
        let expected = if cfg!(target_os = "macos") {
            TRUST
        } else {
            RootPolicy::DenyAll
        };
        assert_eq!(RootPolicy::default(), expected);
    }

    #[test]
    fn apple_table() {
        assert_eq!(apple_restriction(20004), Restriction::Root);
        assert_eq!(apple_restriction(20015), Restriction::Root);
        for id in [20007, 20010, 20011, 20013, 20014] {
            assert_eq!(apple_restriction(id), Restriction::RootOrEntitlement);
        }
        assert_eq!(apple_restriction(20005), Restriction::AlwaysDenied);
        for id in [20000, 20001, 20002, 20009, 20021] {
            assert_eq!(apple_restriction(id), Restriction::None);
        }
        let root = token(0, 5);
        assert_eq!(
            authorize(Restriction::AlwaysDenied, Some(&root), TRUST),
            Err(Denied::Untrusted)
        );
        assert_eq!(
            authorize(Restriction::None, None, RootPolicy::DenyAll),
            Ok(())
        );
        assert_eq!(
            authorize(Restriction::RootOrEntitlement, Some(&root), TRUST),
            Ok(())
        );
        assert_eq!(Denied::NoToken.status(), IpconfigStatus::PERMISSION_DENIED);
    }
}
