//! The bootstrap name service: find a service's port by name, check a service in, register one.
//!
//! On NextBSD these are launchd's liblaunch calls and on macOS libSystem's (docs/mach-abi.md
//! §11); on the simulated kernel, its name server. Errors are [`Error::Kern`] with the bootstrap
//! code (`BOOTSTRAP_UNKNOWN_SERVICE` = 1102 when nothing has that name; see
//! [`is_unknown_service`]).
//!
//! ```
//! # #[cfg(mach_backend = "sim")]
//! # fn main() -> Result<(), mach_async::Error> {
//! use mach_async::{bootstrap, ReceiveRight, Space};
//!
//! let kernel = mach_async::mach_sim::Kernel::new();
//! let server = Space::from_task(kernel.task_create("server", 1, 0, 0));
//! let client = Space::from_task(kernel.task_create("client", 2, 0, 0));
//! let port = ReceiveRight::new_in(&server)?;
//! bootstrap::register(&server, "org.example.echo", &port)?;
//! let to_server = bootstrap::look_up(&client, "org.example.echo")?;
//! assert!(bootstrap::is_unknown_service(&bootstrap::look_up(&client, "org.example.none").unwrap_err()));
//! drop((to_server, port));
//! kernel.assert_no_leaks();
//! # Ok(())
//! # }
//! # #[cfg(not(mach_backend = "sim"))]
//! # fn main() {}
//! ```

use crate::{Error, ReceiveRight, SendRight, Space};

/// Whether `e` says that no service has the name (`BOOTSTRAP_UNKNOWN_SERVICE`).
pub fn is_unknown_service(e: &Error) -> bool {
    matches!(e, Error::Kern { kr, .. } if *kr == mach_abi::BOOTSTRAP_UNKNOWN_SERVICE)
}

/// `bootstrap_look_up(service)`: a send right to the service's port, in `space`.
pub fn look_up(space: &Space, service: &str) -> Result<SendRight, Error> {
    let name = space
        .bootstrap_look_up(service)
        .map_err(|kr| Error::kern("bootstrap_look_up", kr))?;
    // SAFETY: on success the name server inserted a send right under `name` in `space`.
    Ok(unsafe { SendRight::from_raw_in(space, name) })
}

/// `bootstrap_check_in(service)`: the service's receive right, in `space` (on NextBSD and
/// macOS the service must be declared in the job's launchd plist).
pub fn check_in(space: &Space, service: &str) -> Result<ReceiveRight, Error> {
    let name = space
        .bootstrap_check_in(service)
        .map_err(|kr| Error::kern("bootstrap_check_in", kr))?;
    // SAFETY: on success the name server gave `space` the receive right under `name`.
    Ok(unsafe { ReceiveRight::from_raw_in(space, name) })
}

/// `bootstrap_register(service, port)`: makes `port` findable under `service` until it dies
/// (deprecated on Apple systems; launchd's liblaunch on NextBSD). `port` must be in `space`.
pub fn register(space: &Space, service: &str, port: &ReceiveRight) -> Result<(), Error> {
    if port.space() != space {
        return Err(Error::WrongSpace {
            op: "bootstrap_register",
        });
    }
    // The name server copies a send right (MIG `COPY_SEND`); ours goes again afterwards.
    let send = port.make_send()?;
    space
        .bootstrap_register(service, send.name())
        .map_err(|kr| Error::kern("bootstrap_register", kr))
}
