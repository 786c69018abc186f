//! `RegistryError`: the errno each registry ioctl failure maps to and back (spec §6 #11), and
//! the `Arc` forwarding of the backend trait. Backend-free: runs everywhere.

use std::sync::{Arc, Mutex};

use iokit_notify::registry_abi::{ioreg_criteria, ioreg_node, ioreg_test_event, ioreg_watch_reg};
use iokit_notify::{RegistryBackend, RegistryError};

#[test]
fn errno_classification_round_trips() {
    for (errno, want) in [
        (libc::EINVAL, RegistryError::InvalidArgument),
        (libc::ENOTTY, RegistryError::Unsupported(libc::ENOTTY)),
        (libc::ENOSYS, RegistryError::Unsupported(libc::ENOSYS)),
        (libc::ENOENT, RegistryError::NotFound),
        (libc::EPERM, RegistryError::Os(libc::EPERM)),
    ] {
        let e = RegistryError::from_errno(errno);
        assert_eq!(e, want);
        assert_eq!(e.errno(), Some(errno), "{e}");
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(RegistryError::NoDevice.errno(), None);
    assert_eq!(RegistryError::NoDevice.to_string(), "no registry device");
}

/// Records which call reached it.
#[derive(Default)]
struct Recorder(Mutex<Vec<&'static str>>);

impl RegistryBackend for Recorder {
    fn watch(&self, _: &ioreg_watch_reg) -> Result<(), RegistryError> {
        self.0.lock().unwrap().push("watch");
        Ok(())
    }
    fn lookup(&self, _: &ioreg_criteria, matches: &mut [u64]) -> Result<usize, RegistryError> {
        self.0.lock().unwrap().push("lookup");
        matches.iter_mut().for_each(|m| *m = 7);
        Ok(matches.len())
    }
    fn node(&self, id: u64) -> Result<ioreg_node, RegistryError> {
        self.0.lock().unwrap().push("node");
        let mut n = ioreg_node::zeroed();
        n.id = id;
        Ok(n)
    }
    fn test_event(&self, _: &ioreg_test_event) -> Result<(), RegistryError> {
        self.0.lock().unwrap().push("test_event");
        Err(RegistryError::Unsupported(libc::ENOTTY))
    }
}

#[test]
fn an_arc_forwards_every_call() {
    let inner = Arc::new(Recorder::default());
    let shared: Arc<Recorder> = inner.clone();
    shared.watch(&ioreg_watch_reg::default()).unwrap();
    let mut ids = [0u64; 2];
    assert_eq!(shared.lookup(&ioreg_criteria::default(), &mut ids), Ok(2));
    assert_eq!(ids, [7, 7]);
    assert_eq!(shared.node(9).unwrap().id, 9);
    assert_eq!(
        shared.test_event(&ioreg_test_event::default()),
        Err(RegistryError::Unsupported(libc::ENOTTY))
    );
    assert_eq!(
        *inner.0.lock().unwrap(),
        ["watch", "lookup", "node", "test_event"]
    );
}
