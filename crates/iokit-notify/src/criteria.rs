//! Matching criteria of a watch: which devices it reports.

use thiserror::Error;

use crate::registry_abi::{ioreg_criteria, IOREG_NAME_MAX};

/// Which devices a watch or lookup selects: every field that is set must equal the device's
/// (strings byte for byte); fields left unset match anything. [`Criteria::all`] matches every
/// device.
///
/// Values that the kernel would treat as a wildcard (an empty string, a PCI id of 0) or would
/// truncate (a string over 31 bytes) are rejected by [`Criteria::to_raw`] instead of silently
/// widening the match (spec §6 #15).
///
/// ```
/// use iokit_notify::Criteria;
/// let c = Criteria::all().class("em").driver("em");
/// let raw = c.to_raw().unwrap();
/// assert_eq!(&raw.classname[..3], b"em\0");
/// assert!(Criteria::all().class("x".repeat(32)).to_raw().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Criteria {
    name: Option<String>,
    class: Option<String>,
    driver: Option<String>,
    pci_vendor: Option<u32>,
    pci_device: Option<u32>,
    pci_subvendor: Option<u32>,
    pci_class: Option<u8>,
}

/// A criterion the kernel cannot express exactly.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CriteriaError {
    /// A string longer than 31 bytes would be truncated by the kernel.
    #[error("{field} is {len} bytes; the registry holds at most 31")]
    TooLong {
        /// Which criterion.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// A string with an interior NUL would be cut short.
    #[error("{field} contains a NUL byte")]
    InteriorNul {
        /// Which criterion.
        field: &'static str,
    },
    /// An empty string is a wildcard to the kernel; leave the criterion unset instead.
    #[error("{field} is empty, which the registry reads as 'any'")]
    Empty {
        /// Which criterion.
        field: &'static str,
    },
    /// A PCI id of 0 is a wildcard to the kernel; leave the criterion unset instead.
    #[error("{field} is 0, which the registry reads as 'any'")]
    ZeroPciId {
        /// Which criterion.
        field: &'static str,
    },
}

impl Criteria {
    /// Matches every device.
    pub fn all() -> Criteria {
        Criteria::default()
    }

    /// Device name (`device_get_name()`, e.g. `em`); `IONameMatch` in IOKit dictionaries.
    pub fn name(mut self, name: impl Into<String>) -> Criteria {
        self.name = Some(name.into());
        self
    }

    /// Devclass name (e.g. `em`, `vtblk`, `pci`); `IOProviderClass` in IOKit dictionaries.
    pub fn class(mut self, class: impl Into<String>) -> Criteria {
        self.class = Some(class.into());
        self
    }

    /// Name of the bound driver. Injected test events never match a driver criterion.
    pub fn driver(mut self, driver: impl Into<String>) -> Criteria {
        self.driver = Some(driver.into());
        self
    }

    /// PCI vendor id.
    pub fn pci_vendor(mut self, vendor: u32) -> Criteria {
        self.pci_vendor = Some(vendor);
        self
    }

    /// PCI device id.
    pub fn pci_device(mut self, device: u32) -> Criteria {
        self.pci_device = Some(device);
        self
    }

    /// PCI subsystem vendor id.
    pub fn pci_subvendor(mut self, subvendor: u32) -> Criteria {
        self.pci_subvendor = Some(subvendor);
        self
    }

    /// PCI base class.
    pub fn pci_class(mut self, class: u8) -> Criteria {
        self.pci_class = Some(class);
        self
    }

    /// The name criterion, if set.
    pub fn name_criterion(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The class criterion, if set.
    pub fn class_criterion(&self) -> Option<&str> {
        self.class.as_deref()
    }

    /// The driver criterion, if set.
    pub fn driver_criterion(&self) -> Option<&str> {
        self.driver.as_deref()
    }

    /// The kernel form, or the first criterion it cannot express exactly.
    pub fn to_raw(&self) -> Result<ioreg_criteria, CriteriaError> {
        let mut raw = ioreg_criteria::default();
        encode_field("name", self.name.as_deref(), &mut raw.name)?;
        encode_field("class", self.class.as_deref(), &mut raw.classname)?;
        encode_field("driver", self.driver.as_deref(), &mut raw.driver)?;
        raw.pci_vendor = pci_field("pci_vendor", self.pci_vendor)?;
        raw.pci_device = pci_field("pci_device", self.pci_device)?;
        raw.pci_subvendor = pci_field("pci_subvendor", self.pci_subvendor)?;
        raw.pci_class = pci_field("pci_class", self.pci_class.map(u32::from))?;
        Ok(raw)
    }

    /// Reads the kernel form back: empty strings and zero ids become unset criteria; strings are
    /// cut at byte 31 and decoded lossily.
    pub fn from_raw(raw: &ioreg_criteria) -> Criteria {
        let text = |field: &[u8; IOREG_NAME_MAX]| {
            let s = crate::registry_abi::decode_name(field);
            (!s.is_empty()).then_some(s)
        };
        let id = |v: u32| (v != 0).then_some(v);
        Criteria {
            name: text(&raw.name),
            class: text(&raw.classname),
            driver: text(&raw.driver),
            pci_vendor: id(raw.pci_vendor),
            pci_device: id(raw.pci_device),
            pci_subvendor: id(raw.pci_subvendor),
            pci_class: id(raw.pci_class & 0xff).map(|v| v as u8),
        }
    }
}

fn encode_field(
    field: &'static str,
    value: Option<&str>,
    out: &mut [u8; IOREG_NAME_MAX],
) -> Result<(), CriteriaError> {
    let Some(value) = value else { return Ok(()) };
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(CriteriaError::Empty { field });
    }
    if bytes.contains(&0) {
        return Err(CriteriaError::InteriorNul { field });
    }
    if bytes.len() > IOREG_NAME_MAX - 1 {
        return Err(CriteriaError::TooLong {
            field,
            len: bytes.len(),
        });
    }
    out[..bytes.len()].copy_from_slice(bytes);
    Ok(())
}

fn pci_field(field: &'static str, value: Option<u32>) -> Result<u32, CriteriaError> {
    match value {
        None => Ok(0),
        Some(0) => Err(CriteriaError::ZeroPciId { field }),
        Some(v) => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_all_zero() {
        assert_eq!(Criteria::all().to_raw().unwrap(), ioreg_criteria::default());
    }

    #[test]
    fn every_field_lands_at_its_offset() {
        let raw = Criteria::all()
            .name("em")
            .class("pci")
            .driver("e1000")
            .pci_vendor(0x8086)
            .pci_device(0x100e)
            .pci_subvendor(0x1af4)
            .pci_class(2)
            .to_raw()
            .unwrap();
        assert_eq!(&raw.name[..3], b"em\0");
        assert_eq!(&raw.classname[..4], b"pci\0");
        assert_eq!(&raw.driver[..6], b"e1000\0");
        assert_eq!(
            (
                raw.pci_vendor,
                raw.pci_device,
                raw.pci_subvendor,
                raw.pci_class
            ),
            (0x8086, 0x100e, 0x1af4, 2)
        );
        assert_eq!(raw.match_flags, 0);
    }

    #[test]
    fn widening_values_are_rejected() {
        assert_eq!(
            Criteria::all().class("c".repeat(32)).to_raw(),
            Err(CriteriaError::TooLong {
                field: "class",
                len: 32
            })
        );
        assert!(Criteria::all().name("n".repeat(31)).to_raw().is_ok());
        assert_eq!(
            Criteria::all().name("").to_raw(),
            Err(CriteriaError::Empty { field: "name" })
        );
        assert_eq!(
            Criteria::all().driver("a\0b").to_raw(),
            Err(CriteriaError::InteriorNul { field: "driver" })
        );
        assert_eq!(
            Criteria::all().pci_vendor(0).to_raw(),
            Err(CriteriaError::ZeroPciId {
                field: "pci_vendor"
            })
        );
    }

    #[test]
    fn raw_round_trip() {
        let c = Criteria::all()
            .name("vtblk")
            .driver("vtblk")
            .pci_device(7)
            .pci_class(1);
        assert_eq!(Criteria::from_raw(&c.to_raw().unwrap()), c);
    }
}
