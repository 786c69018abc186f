//! The stream side's event thread: one current-thread tokio runtime on one thread, as the
//! consumer crates' C ABI runs all of its objects ("N notification ports cost zero extra
//! threads, not N").

use std::future::Future;
use std::thread::JoinHandle;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A tokio runtime driven by a dedicated thread until dropped.
pub struct EventThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EventThread {
    /// Starts the thread (named `name`) and its runtime (I/O and timers enabled).
    pub fn start(name: &str) -> std::io::Result<EventThread> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
                // Dropping the runtime drops every task still alive, and with them their streams.
                drop(rt);
            })?;
        Ok(EventThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The runtime's handle (spawn on it, or `enter` it to build streams from another thread).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `future` on the event thread and waits for its output from the calling thread.
    pub fn run<F>(&self, future: F) -> Result<F::Output, tokio::task::JoinError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures::executor::block_on(self.handle.spawn(future))
    }
}

impl Drop for EventThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_futures_on_its_own_thread_and_stops_on_drop() {
        let ev = EventThread::start("ev-test").unwrap();
        let here = std::thread::current().id();
        let there = ev.run(async { std::thread::current().id() }).unwrap();
        assert_ne!(here, there);
        let name = ev
            .run(async { std::thread::current().name().map(str::to_owned) })
            .unwrap();
        assert_eq!(name.as_deref(), Some("ev-test"));
        // A task still pending when the thread stops is dropped, not leaked.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        ev.handle().spawn(async move {
            let _keep = tx;
            std::future::pending::<()>().await;
        });
        drop(ev);
        assert!(
            rx.recv().is_err(),
            "the pending task's sender was dropped with the runtime"
        );
    }
}
