//! The ipconfig service as an async server: the handler trait a daemon implements and the
//! server that runs it on the MIG runtime.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use mach_abi::{audit_token_t, kern_return_t, mach_msg_id_t};
use mach_async::mig::{
    MigRequest, MigServer, RequestCheck, RoutineOutcome, RoutineTable, ServeEnd, Served,
};
use mach_async::{Name, ReceiveRight, Space};
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::ipconfig_messages::{
    InterfaceName, IpAddress, APPLE_IPCONFIG_GET_OPTION_ID, APPLE_IPCONFIG_IF_ADDR_ID,
    APPLE_IPCONFIG_SUBSYSTEM_END, IF_NAMESIZE, IPCONFIG_IF_ADDR_ID, IPCONFIG_IF_COUNT_ID,
    IPCONFIG_SERVICE_NAME, IPCONFIG_SUBSYSTEM_BASE, IPCONFIG_SUBSYSTEM_END,
};
use crate::protocol::{check_apple_20001, IfAddr, Numbering, IF_ADDR_REQUEST, IF_COUNT_REQUEST};
use crate::Error;

/// What a routine knows about its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallContext {
    /// The request's `msgh_id` (tells legacy 20001 from Apple's 20002 in compatibility mode).
    pub msgh_id: mach_msg_id_t,
    /// The sender's audit token from the trailer, if the kernel supplied one. Not a credential
    /// on NextBSD: authorize with [`crate::auth`], which fails closed.
    pub audit_token: Option<audit_token_t>,
}

/// The routines of `ipconfig.defs`, implemented by the daemon.
///
/// Both may run concurrently on any thread. Application-level results travel in the return
/// value (`status` for `if_addr`); an `Err` is a `kern_return_t` that the client receives as
/// the error reply's `RetCode` (ipconfigd's handlers never fail).
#[async_trait]
pub trait IpconfigHandler: Send + Sync + 'static {
    /// `ipconfig_if_count`: how many interfaces are bound.
    async fn if_count(&self, ctx: CallContext) -> Result<i32, kern_return_t>;

    /// `ipconfig_if_addr`: the bound IPv4 address of `name`, or status `NO_SERVER` when the
    /// interface is unknown or not bound. `name` may lack a NUL; ipconfigd looks up
    /// [`InterfaceName::lookup_key`] (its first 15 bytes).
    async fn if_addr(&self, name: InterfaceName, ctx: CallContext)
        -> Result<IfAddr, kern_return_t>;
}

/// The ipconfig MIG server.
#[derive(Debug)]
pub struct IpconfigServer<H> {
    handler: Arc<H>,
    numbering: Numbering,
}

impl<H: IpconfigHandler> IpconfigServer<H> {
    /// A server for `handler` with NextBSD's numbering.
    pub fn new(handler: H) -> IpconfigServer<H> {
        IpconfigServer::from_arc(Arc::new(handler))
    }

    /// A server for a shared handler.
    pub fn from_arc(handler: Arc<H>) -> IpconfigServer<H> {
        IpconfigServer {
            handler,
            numbering: Numbering::NextBsd,
        }
    }

    /// Selects the routine numbering (see [`Numbering::AppleCompat`] for the opt-in mode).
    pub fn numbering(mut self, numbering: Numbering) -> IpconfigServer<H> {
        self.numbering = numbering;
        self
    }

    /// The routine table for the chosen numbering.
    pub fn routine_table(&self) -> RoutineTable {
        let if_count = {
            let handler = self.handler.clone();
            move |request: MigRequest| if_count_routine(handler.clone(), request)
        };
        let if_addr = {
            let handler = self.handler.clone();
            move |request: MigRequest| if_addr_routine(handler.clone(), request)
        };
        match self.numbering {
            Numbering::NextBsd => {
                RoutineTable::new(IPCONFIG_SUBSYSTEM_BASE, IPCONFIG_SUBSYSTEM_END)
                    .routine(
                        IPCONFIG_IF_COUNT_ID,
                        RequestCheck::Shape(IF_COUNT_REQUEST),
                        if_count,
                    )
                    .routine(
                        IPCONFIG_IF_ADDR_ID,
                        RequestCheck::Shape(IF_ADDR_REQUEST),
                        if_addr,
                    )
            }
            Numbering::AppleCompat => {
                RoutineTable::new(IPCONFIG_SUBSYSTEM_BASE, APPLE_IPCONFIG_SUBSYSTEM_END)
                    .routine(
                        IPCONFIG_IF_COUNT_ID,
                        RequestCheck::Shape(IF_COUNT_REQUEST),
                        if_count,
                    )
                    .routine(
                        APPLE_IPCONFIG_GET_OPTION_ID,
                        RequestCheck::Custom(check_apple_20001),
                        if_addr.clone(),
                    )
                    .routine(
                        APPLE_IPCONFIG_IF_ADDR_ID,
                        RequestCheck::Shape(IF_ADDR_REQUEST),
                        if_addr,
                    )
            }
        }
    }

    /// Checks [`IPCONFIG_SERVICE_NAME`] in, in `space`, and serves it on the current tokio
    /// runtime (see [`IpconfigServer::spawn`]).
    pub fn check_in(self, space: &Space) -> Result<ServerHandle, Error> {
        let port = mach_async::bootstrap::check_in(space, IPCONFIG_SERVICE_NAME)?;
        self.spawn(port)
    }

    /// Serves `port` on the current tokio runtime (which must have I/O enabled) until
    /// [`ServerHandle::close`], the handle's drop, or the port's death.
    pub fn spawn(self, port: ReceiveRight) -> Result<ServerHandle, Error> {
        let runtime = Handle::try_current()
            .map_err(|e| mach_async::Error::NoRuntime(std::io::Error::other(e.to_string())))?;
        let _entered = runtime.enter();
        let port_name = port.name();
        let server = MigServer::new(port, self.routine_table())?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = runtime.spawn(server.serve_until(async move {
            let _ = stopped.await;
        }));
        Ok(ServerHandle {
            port_name,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A running [`IpconfigServer`].
///
/// Dropping the handle stops the server without waiting: its task releases the port and every
/// request still running on its own. [`ServerHandle::close`] stops it and waits.
#[derive(Debug)]
pub struct ServerHandle {
    port_name: Name,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Served>>,
}

impl ServerHandle {
    /// Stops serving (unless it already ended: the port died) and returns once the server
    /// ended, with what it served and the service port ([`Served::port`], with any requests
    /// still queued; `None` if it died), which a daemon may serve again. Routines still running
    /// are cancelled (their clients get `MIG_SERVER_DIED`).
    pub async fn close(mut self) -> Served {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.finish().await
    }

    /// Waits until the server ends on its own (its port died or was destroyed) without asking
    /// it to stop.
    pub async fn finished(mut self) -> Served {
        self.finish().await
    }

    async fn finish(&mut self) -> Served {
        let task = self.task.take().expect("the task is taken only here, once");
        match task.await {
            Ok(served) => served,
            // The runtime shut down under the server (or its task panicked): the port was
            // dropped with the task.
            Err(e) => {
                tracing::warn!(error = %e, "ipconfig server task ended without returning");
                Served {
                    end: ServeEnd::PortDied,
                    port: None,
                    added: Vec::new(),
                    stats: Default::default(),
                }
            }
        }
    }

    /// The name of the service port in the server's space (diagnostics and tests).
    pub fn port_name(&self) -> Name {
        self.port_name
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn context(request: &MigRequest) -> CallContext {
    CallContext {
        msgh_id: request.id(),
        audit_token: request.audit_token(),
    }
}

async fn if_count_routine<H: IpconfigHandler>(
    handler: Arc<H>,
    request: MigRequest,
) -> RoutineOutcome {
    let ctx = context(&request);
    // The request carries no rights; it is released now.
    drop(request);
    match handler.if_count(ctx).await {
        Ok(count) => RoutineOutcome::Reply(Bytes::copy_from_slice(&count.to_ne_bytes())),
        Err(code) => RoutineOutcome::Error(code),
    }
}

async fn if_addr_routine<H: IpconfigHandler>(
    handler: Arc<H>,
    request: MigRequest,
) -> RoutineOutcome {
    let ctx = context(&request);
    // The check guaranteed 48 bytes; copy the name into a buffer owned by the call.
    let mut name = [0u8; IF_NAMESIZE];
    name.copy_from_slice(&request.bytes()[32..32 + IF_NAMESIZE]);
    drop(request);
    match handler.if_addr(InterfaceName(name), ctx).await {
        Ok(IfAddr { addr, status }) => {
            let mut outs = [0u8; 8];
            outs[..4].copy_from_slice(&IpAddress::from(addr).0.to_ne_bytes());
            outs[4..].copy_from_slice(&status.0.to_ne_bytes());
            RoutineOutcome::Reply(Bytes::copy_from_slice(&outs))
        }
        Err(code) => RoutineOutcome::Error(code),
    }
}
