//! The bootstrap name service (launchd's role): service name → port. The service keeps a
//! kernel reference to the port, not a right, so it never counts as a sender; a registration
//! whose port died is treated as absent.

use crate::msg::KRight;
use crate::port::Receiver;
use crate::space::Obj;
use crate::state::{PortId, State, TaskId};
use crate::{KernResult, Name};
use mach_abi::*;

impl State {
    /// The live port registered under `service`, pruning a dead registration.
    fn service_port(&mut self, service: &str) -> Option<PortId> {
        let p = *self.bootstrap.get(service)?;
        if self.ports.contains_key(&p) {
            Some(p)
        } else {
            self.bootstrap.remove(service);
            None
        }
    }

    pub(crate) fn bootstrap_check_in(&mut self, t: TaskId, service: &str) -> KernResult<Name> {
        self.live_task(t)?;
        if self.service_port(service).is_some() {
            return Err(BOOTSTRAP_SERVICE_ACTIVE);
        }
        let p = self.new_port(t);
        let name = self.copyout_right(t, KRight::Receive(p));
        debug_assert_eq!(self.ports[&p].receiver, Receiver::Task(t, name));
        self.bootstrap.insert(service.to_string(), p);
        Ok(name)
    }

    pub(crate) fn bootstrap_look_up(&mut self, t: TaskId, service: &str) -> KernResult<Name> {
        self.live_task(t)?;
        let p = self
            .service_port(service)
            .ok_or(BOOTSTRAP_UNKNOWN_SERVICE)?;
        let port = self.ports.get_mut(&p).expect("live port");
        port.mscount += 1;
        port.srights += 1;
        Ok(self.copyout_right(t, KRight::Send(p)))
    }

    pub(crate) fn bootstrap_register(
        &mut self,
        t: TaskId,
        service: &str,
        name: Name,
    ) -> KernResult<()> {
        self.live_task(t)?;
        if name == MACH_PORT_NULL {
            self.bootstrap.remove(service);
            return Ok(());
        }
        let e = self.lookup(t, name).ok_or(KERN_INVALID_NAME)?;
        let p = match e.obj {
            Obj::Port(p) if e.receive || e.send > 0 => p,
            _ => return Err(KERN_INVALID_RIGHT),
        };
        if self.service_port(service).is_some() {
            return Err(BOOTSTRAP_NAME_IN_USE);
        }
        self.bootstrap.insert(service.to_string(), p);
        Ok(())
    }

    pub(crate) fn bootstrap_unregister(&mut self, service: &str) -> KernResult<()> {
        self.service_port(service)
            .ok_or(BOOTSTRAP_UNKNOWN_SERVICE)?;
        self.bootstrap.remove(service);
        Ok(())
    }
}
