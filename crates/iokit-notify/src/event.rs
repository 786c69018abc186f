//! Device events and event kinds, independent of the wire layout.
//!
//! This module depends on nothing else in the crate: [`crate::registry_abi`] builds on it (its parser
//! yields [`DeviceEvent`]s, and it checks at compile time that [`EventKind::raw`] is its
//! `IOREG_EVENT_*` value).

use core::fmt;
use core::ops::{BitOr, BitOrAssign};

/// The kernel's `IOREG_EVENT_ARRIVE` (`<sys/ioregistry.h>`, iokit-notify.md §4).
const IOREG_EVENT_ARRIVE: u32 = 0x1;
/// The kernel's `IOREG_EVENT_DEPART`.
const IOREG_EVENT_DEPART: u32 = 0x2;
/// The kernel's `IOREG_EVENT_MATCHED`.
const IOREG_EVENT_MATCHED: u32 = 0x4;

/// What happened to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// The device attached (IOKit "published" / "first match").
    Arrive,
    /// The device detached (IOKit "terminated").
    Depart,
    /// A driver was bound to the device. The kernel sends it right after `Arrive`.
    Matched,
}

impl EventKind {
    /// The kernel's value (`IOREG_EVENT_*`): 1, 2 or 4.
    pub const fn raw(self) -> u32 {
        match self {
            EventKind::Arrive => IOREG_EVENT_ARRIVE,
            EventKind::Depart => IOREG_EVENT_DEPART,
            EventKind::Matched => IOREG_EVENT_MATCHED,
        }
    }

    /// The kind for a kernel value; `None` for anything but exactly 1, 2 or 4 (spec §6 #9).
    pub const fn from_raw(raw: u32) -> Option<EventKind> {
        match raw {
            IOREG_EVENT_ARRIVE => Some(EventKind::Arrive),
            IOREG_EVENT_DEPART => Some(EventKind::Depart),
            IOREG_EVENT_MATCHED => Some(EventKind::Matched),
            _ => None,
        }
    }
}

/// A set of [`EventKind`]s: the event mask of a watch.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EventKinds(u32);

impl EventKinds {
    /// No kind.
    pub const NONE: EventKinds = EventKinds(0);
    /// Arrivals.
    pub const ARRIVE: EventKinds = EventKinds(IOREG_EVENT_ARRIVE);
    /// Departures.
    pub const DEPART: EventKinds = EventKinds(IOREG_EVENT_DEPART);
    /// Driver bindings.
    pub const MATCHED: EventKinds = EventKinds(IOREG_EVENT_MATCHED);
    /// Arrivals and departures.
    pub const ARRIVE_DEPART: EventKinds = EventKinds(IOREG_EVENT_ARRIVE | IOREG_EVENT_DEPART);
    /// Every kind.
    pub const ALL: EventKinds =
        EventKinds(IOREG_EVENT_ARRIVE | IOREG_EVENT_DEPART | IOREG_EVENT_MATCHED);

    /// The kernel mask (`IOREG_EVENT_*` bits).
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The set for a kernel mask; bits other than the three known ones are dropped.
    pub const fn from_bits_truncate(bits: u32) -> EventKinds {
        EventKinds(bits & EventKinds::ALL.0)
    }

    /// Whether `kind` is in the set.
    pub const fn contains(self, kind: EventKind) -> bool {
        self.0 & kind.raw() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl From<EventKind> for EventKinds {
    fn from(kind: EventKind) -> Self {
        EventKinds(kind.raw())
    }
}

impl BitOr for EventKinds {
    type Output = EventKinds;
    fn bitor(self, rhs: EventKinds) -> EventKinds {
        EventKinds(self.0 | rhs.0)
    }
}

impl BitOr<EventKind> for EventKinds {
    type Output = EventKinds;
    fn bitor(self, rhs: EventKind) -> EventKinds {
        EventKinds(self.0 | rhs.raw())
    }
}

impl BitOrAssign for EventKinds {
    fn bitor_assign(&mut self, rhs: EventKinds) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for EventKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set = f.debug_set();
        for kind in [EventKind::Arrive, EventKind::Depart, EventKind::Matched] {
            if self.contains(kind) {
                set.entry(&kind);
            }
        }
        set.finish()
    }
}

/// One device event as the kernel reported it. Departures carry the name, class and PCI ids the
/// device had, which the registry itself forgets at detach (spec §6 #13).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceEvent {
    /// What happened.
    pub kind: EventKind,
    /// Registry node id (never 0, never reused; a re-attached device gets a new one).
    pub id: u64,
    /// `device_get_name()`, e.g. `em` (at most 31 bytes).
    pub name: String,
    /// Devclass name, e.g. `em`, `vtblk`, `pci` (at most 31 bytes).
    pub class: String,
    /// PCI vendor id, 0 if the device is not a PCI nub.
    pub pci_vendor: u32,
    /// PCI device id, 0 if the device is not a PCI nub.
    pub pci_device: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_kernel_values_are_kinds() {
        assert_eq!(EventKind::from_raw(1), Some(EventKind::Arrive));
        assert_eq!(EventKind::from_raw(2), Some(EventKind::Depart));
        assert_eq!(EventKind::from_raw(4), Some(EventKind::Matched));
        for raw in [0, 3, 5, 6, 7, 8, 0x10, u32::MAX] {
            assert_eq!(EventKind::from_raw(raw), None, "{raw}");
        }
    }

    #[test]
    fn kinds_compose_as_the_kernel_mask() {
        let k = EventKinds::ARRIVE | EventKind::Depart;
        assert_eq!(k.bits(), 3);
        assert!(k.contains(EventKind::Arrive) && k.contains(EventKind::Depart));
        assert!(!k.contains(EventKind::Matched));
        assert_eq!(EventKinds::from_bits_truncate(0xff).bits(), 7);
        assert!(EventKinds::NONE.is_empty());
        assert_eq!(format!("{:?}", k), "{Arrive, Depart}");
    }
}
