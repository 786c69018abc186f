//! Exactly-once reporting around registration (spec §6 #3).
//!
//! A watch is registered with the kernel *before* the snapshot (`LOOKUP`) is taken, so nothing
//! that happens after the snapshot can be missed. The price is overlap: a device attached
//! between `WATCH` and `LOOKUP`, or one whose ARRIVE was still pending in a quiesce bracket, is
//! both in the snapshot and announced by a message. [`ExactlyOnce`] removes the overlap:
//!
//! * ARRIVE / MATCHED for an id in the snapshot is suppressed until a DEPART for that id;
//! * any other ARRIVE / MATCHED marks the id as seen;
//! * DEPART is reported for ids in the snapshot or seen since, and then forgotten; a DEPART for
//!   an id the watch never reported (a device that left between `WATCH` and `LOOKUP`) is dropped
//!   unless [`UnknownDepartures::Deliver`] is chosen.
//!
//! To know what was seen, the kernel watch always carries ARRIVE and DEPART in its mask, whatever
//! kinds the caller asked for; kinds the caller did not ask for are filtered after this step.

use std::collections::HashSet;

use crate::event::{DeviceEvent, EventKind};

/// What to do with a DEPART for a device the watch never reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownDepartures {
    /// Drop it: every reported departure matches a device that was in the snapshot or arrived.
    #[default]
    Ignore,
    /// Report it anyway (Apple's terminate semantics: any departure after registration).
    Deliver,
}

/// Per-watch state that makes every device reported exactly once across snapshot and stream.
#[derive(Debug, Default)]
pub(crate) struct ExactlyOnce {
    in_snapshot: HashSet<u64>,
    seen: HashSet<u64>,
    unknown_departures: UnknownDepartures,
}

impl ExactlyOnce {
    /// State for a watch whose snapshot (taken after registration) is `snapshot`.
    pub(crate) fn new(snapshot: &[u64], unknown_departures: UnknownDepartures) -> ExactlyOnce {
        ExactlyOnce {
            in_snapshot: snapshot.iter().copied().collect(),
            seen: HashSet::new(),
            unknown_departures,
        }
    }

    /// The policy this filter was made with.
    pub(crate) fn unknown_departures(&self) -> UnknownDepartures {
        self.unknown_departures
    }

    /// Whether `event` is news to this watch; updates what the watch has seen.
    pub(crate) fn admit(&mut self, event: &DeviceEvent) -> bool {
        match event.kind {
            EventKind::Arrive | EventKind::Matched => {
                if self.in_snapshot.contains(&event.id) {
                    return false;
                }
                self.seen.insert(event.id);
                true
            }
            EventKind::Depart => {
                let known = self.in_snapshot.remove(&event.id) | self.seen.remove(&event.id);
                known || self.unknown_departures == UnknownDepartures::Deliver
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, id: u64) -> DeviceEvent {
        DeviceEvent {
            kind,
            id,
            name: "em".into(),
            class: "em".into(),
            pci_vendor: 0,
            pci_device: 0,
        }
    }

    #[test]
    fn snapshot_members_are_not_announced_again() {
        let mut f = ExactlyOnce::new(&[1, 2], UnknownDepartures::Ignore);
        assert!(!f.admit(&ev(EventKind::Arrive, 1)));
        assert!(!f.admit(&ev(EventKind::Matched, 1)));
        assert!(f.admit(&ev(EventKind::Arrive, 3)));
        assert!(f.admit(&ev(EventKind::Matched, 3)));
    }

    #[test]
    fn departures_are_reported_once_for_known_devices_only() {
        let mut f = ExactlyOnce::new(&[1], UnknownDepartures::Ignore);
        assert!(f.admit(&ev(EventKind::Depart, 1)));
        assert!(
            !f.admit(&ev(EventKind::Depart, 1)),
            "forgotten after the first DEPART"
        );
        assert!(
            f.admit(&ev(EventKind::Arrive, 1)),
            "after DEPART an ARRIVE is news again"
        );
        assert!(!f.admit(&ev(EventKind::Depart, 9)), "never seen");
        assert!(f.admit(&ev(EventKind::Arrive, 5)));
        assert!(f.admit(&ev(EventKind::Depart, 5)));
    }

    proptest::proptest! {
        /// Whatever the interleaving the kernel produces (snapshot members whose ARRIVE and
        /// MATCHED are flushed late, new devices, departures, devices gone before the snapshot),
        /// each device is reported as arrived at most once and only if it was not in the
        /// snapshot, and each departure of a reported device exactly once.
        #[test]
        fn every_device_is_reported_once(
            devices in proptest::collection::vec((proptest::bool::ANY, proptest::bool::ANY, proptest::bool::ANY, proptest::bool::ANY), 0..40),
            order in proptest::collection::vec(proptest::num::usize::ANY, 0..200),
        ) {
            // (in_snapshot, late_arrive_flush, departs, gone_before_snapshot)
            let snapshot: Vec<u64> = devices.iter().enumerate()
                .filter(|(_, d)| d.0 && !d.3).map(|(i, _)| i as u64 + 1).collect();
            let mut per_device: Vec<Vec<DeviceEvent>> = devices.iter().enumerate().map(|(i, d)| {
                let id = i as u64 + 1;
                let mut evs = Vec::new();
                if d.3 {
                    evs.push(ev(EventKind::Depart, id)); // left between WATCH and LOOKUP
                    return evs;
                }
                if !d.0 || d.1 {
                    evs.push(ev(EventKind::Arrive, id));
                    evs.push(ev(EventKind::Matched, id));
                }
                if d.2 {
                    evs.push(ev(EventKind::Depart, id));
                }
                evs
            }).collect();
            // Interleave devices in an arbitrary order, keeping each device's own order.
            let mut stream = Vec::new();
            let mut picks = order.into_iter();
            while per_device.iter().any(|v| !v.is_empty()) {
                let live: Vec<usize> = (0..per_device.len()).filter(|&i| !per_device[i].is_empty()).collect();
                let i = live[picks.next().unwrap_or(0) % live.len()];
                stream.push(per_device[i].remove(0));
            }
            let mut filter = ExactlyOnce::new(&snapshot, UnknownDepartures::Ignore);
            let admitted: Vec<DeviceEvent> = stream.into_iter().filter(|e| filter.admit(e)).collect();
            for (i, d) in devices.iter().enumerate() {
                let id = i as u64 + 1;
                let arrivals = admitted.iter().filter(|e| e.id == id && e.kind == EventKind::Arrive).count();
                let departures = admitted.iter().filter(|e| e.id == id && e.kind == EventKind::Depart).count();
                let in_snapshot = d.0 && !d.3;
                let expected_arrivals = usize::from(!in_snapshot && !d.3);
                proptest::prop_assert_eq!(arrivals, expected_arrivals, "device {:?}", d);
                let expected_departures = usize::from(d.2 && !d.3);
                proptest::prop_assert_eq!(departures, expected_departures, "device {:?}", d);
            }
        }
    }

    #[test]
    fn unknown_departures_can_be_delivered() {
        let mut f = ExactlyOnce::new(&[], UnknownDepartures::Deliver);
        assert!(f.admit(&ev(EventKind::Depart, 9)));
    }
}
