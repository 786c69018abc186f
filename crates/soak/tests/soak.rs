//! Soak: the three consumers on one simulated kernel, round after round, each round with a
//! seeded random fault (none, interrupted receives, a failed send, a task dying at a chosen
//! point). Every round checks its own outcome (answers or typed errors, batches, events) and
//! leaves the kernel clean; the end checks the totals. Ignored by default (see the README):
//!
//! ```sh
//! SOAK_SEED=1 SOAK_ITERATIONS=300 cargo test -p soak --release -- --ignored --nocapture
//! ```

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use iokit_notify::registry::{SimDevice, SimRegistry};
use iokit_notify::registry_abi::{
    encode_name_truncating, ioreg_test_event, IOKIT_NOTIFY_MSG_ID, IOREG_EVENT_DEPART,
};
use iokit_notify::{Criteria, EventKinds, NotificationPort, RegistryBackend};
use ipconfig_rpc::client::IpconfigClient;
use ipconfig_rpc::ipconfig_messages::{InterfaceName, IpconfigStatus};
use ipconfig_rpc::mig::{MigError, ServeEnd};
use ipconfig_rpc::server::{CallContext, IpconfigHandler, IpconfigServer};
use ipconfig_rpc::{IfAddr, Numbering};
use mach_abi::{kern_return_t, MACH_RCV_INTERRUPTED, MACH_SEND_INVALID_DEST};
use mach_async::Space;
use mach_sim::{FaultAction, FaultHandle, Kernel, MsgMatch, Task};
use scnotify::store_messages::Routine;
use scnotify::{ConfigdServer, Notifications, Session};
use soak::{Plan, Recorder, Rng, Scenario};

/// Rounds between two progress lines.
const PROGRESS_EVERY: u64 = 10_000;

/// Turns a hang into a failure (never a performance assertion).
const HANG: Duration = Duration::from_secs(60);

async fn bounded<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(HANG, f)
        .await
        .unwrap_or_else(|_| panic!("soak: {what} hung"))
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Default)]
struct Counts {
    rounds: [u32; 3],
    faults_armed: u32,
    faults_fired: u32,
    rpc_ok: u32,
    rpc_err: u32,
    batches: u32,
    events: u32,
}

impl Counts {
    fn fired(&mut self, h: &FaultHandle) {
        self.faults_armed += 1;
        if h.fired() > 0 {
            self.faults_fired += 1;
        }
    }
}

/// Fresh task ids (pids) per round.
struct World {
    kernel: Kernel,
    next_pid: u32,
}

impl World {
    fn task(&mut self, name: &str, euid: u32) -> Task {
        self.next_pid += 1;
        self.kernel.task_create(name, self.next_pid, euid, 20)
    }
}

fn end_task(t: &Task) {
    if t.is_active() {
        t.terminate().expect("terminate");
    }
}

// ---- ipconfig -----------------------------------------------------------------------------

struct Em0;

#[async_trait]
impl IpconfigHandler for Em0 {
    async fn if_count(&self, _ctx: CallContext) -> Result<i32, kern_return_t> {
        Ok(1)
    }
    async fn if_addr(
        &self,
        _name: InterfaceName,
        _ctx: CallContext,
    ) -> Result<IfAddr, kern_return_t> {
        Ok(IfAddr {
            addr: Ipv4Addr::new(10, 0, 2, 15),
            status: IpconfigStatus::SUCCESS,
        })
    }
}

async fn ipconfig_round(w: &mut World, plan: Plan, c: &mut Counts) {
    let server_task = w.task("ipconfigd", 0);
    let client_task = w.task("ipconfig", 501);
    let k = w.kernel.clone();
    let server = IpconfigServer::new(Em0)
        .numbering(Numbering::NextBsd)
        .check_in(&Space::from_task(server_task.clone()))
        .expect("check in and serve");
    let client = IpconfigClient::builder(&Space::from_task(client_task.clone()))
        .timeout(Some(HANG))
        .open()
        .await
        .expect("look_up");
    const CALLS: u32 = Plan::CALLS;
    let (fault, death_at) = (plan.fault, plan.death_at);
    let handle = match fault {
        1 => Some(
            k.faults()
                .fail_next_receives_in(&server_task, 2, MACH_RCV_INTERRUPTED),
        ),
        2 => Some(
            k.faults()
                .fail_next_sends_from(&server_task, 1, MACH_SEND_INVALID_DEST),
        ),
        3 => Some(k.faults().on_receive(
            MsgMatch::any().task(&server_task).nth(death_at),
            FaultAction::TerminateTask(server_task.clone()),
        )),
        _ => None,
    };
    let mut errors = 0;
    for call in 1..=CALLS {
        let result = if call % 2 == 0 {
            bounded(
                "if_addr",
                client.if_addr(InterfaceName::new("em0").unwrap()),
            )
            .await
            .map(|_| ())
        } else {
            bounded("if_count", client.if_count()).await.map(|_| ())
        };
        match result {
            Ok(()) => c.rpc_ok += 1,
            Err(e) => {
                c.rpc_err += 1;
                errors += 1;
                assert!(
                    matches!(
                        e,
                        MigError::ServerDied | MigError::Send(MACH_SEND_INVALID_DEST)
                    ),
                    "unexpected error {e:?} under fault {fault}"
                );
                if fault == 3 {
                    assert!(call >= death_at, "call {call} failed before the death");
                }
            }
        }
    }
    match fault {
        0 | 1 => assert_eq!(errors, 0),
        2 => assert_eq!(errors, 1, "exactly the reply that failed"),
        _ => assert_eq!(errors, CALLS - death_at + 1),
    }
    if let Some(h) = &handle {
        c.fired(h);
        assert!(h.fired() > 0, "fault {fault} took effect");
    }
    drop(client);
    let served = bounded("server end", server.close()).await;
    if fault == 3 {
        assert_eq!(served.end, ServeEnd::PortDied);
    }
    drop(served);
    end_task(&client_task);
    end_task(&server_task);
}

// ---- scnotify -----------------------------------------------------------------------------

async fn next_batch(n: &mut Notifications) -> scnotify::ChangedKeys {
    bounded("batch", n.next())
        .await
        .expect("stream continues")
        .expect("no error")
}

async fn scnotify_round(w: &mut World, round: u64, plan: Plan, c: &mut Counts) {
    let configd_task = w.task("configd", 0);
    let client_task = w.task("app", 501);
    let configd =
        ConfigdServer::check_in(&Space::from_task(configd_task.clone())).expect("configd");
    let client = Space::from_task(client_task.clone());
    let key = format!("soak:{round}");
    let watcher = bounded("open", Session::open(&client)).await.unwrap();
    bounded("keys", watcher.set_notification_keys(&[key.as_str()], &[]))
        .await
        .unwrap();
    let mut n = bounded("register", watcher.notifications()).await.unwrap();
    let k = w.kernel.clone();
    let fault = plan.fault;
    let mut configd = Some(configd);
    let mut extra_tasks = Vec::new();
    match fault {
        1 => {
            let h = k
                .faults()
                .fail_next_receives_in(&client_task, 2, MACH_RCV_INTERRUPTED);
            let writer = bounded("open", Session::open(&client)).await.unwrap();
            bounded("set", writer.set(&key, b"1")).await.unwrap();
            assert_eq!(next_batch(&mut n).await, std::slice::from_ref(&key));
            c.fired(&h);
            k.faults().clear();
        }
        2 => {
            // configd dies as it receives a notifychanges; a new configd takes over.
            let h = k.faults().on_receive(
                MsgMatch::any()
                    .task(&configd_task)
                    .id(Routine::NotifyChanges.id()),
                FaultAction::TerminateTask(configd_task.clone()),
            );
            let writer = bounded("open", Session::open(&client)).await.unwrap();
            let _ = bounded("set", writer.set(&key, b"1")).await;
            drop(writer);
            let old = configd.take().expect("configd");
            let dead = configd_task.clone();
            let new_task = w.task("configd", 0);
            extra_tasks.push(new_task.clone());
            let restart = tokio::spawn(async move {
                while dead.is_active() {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                // Wait for the old server's teardown (its stream's kqueue): dropping the handle
                // only asks it to stop, and the round's leak check could run before it ends
                // (seed 42, round 43826: a kqueue of the dead configd left).
                old.close().await;
                ConfigdServer::check_in(&Space::from_task(new_task)).expect("new configd")
            });
            // The batch may be the key (delivered before the death) or the re-read signal.
            let mut batch = next_batch(&mut n).await;
            configd = Some(bounded("restart", restart).await.expect("restart"));
            if batch == [key.clone()] {
                batch = next_batch(&mut n).await;
            }
            assert_eq!(batch, Vec::<String>::new(), "the re-read signal");
            c.fired(&h);
            assert_eq!(h.fired(), 1);
            let writer = bounded("open", Session::open(&client)).await.unwrap();
            bounded("set", writer.set(&key, b"2")).await.unwrap();
            assert_eq!(next_batch(&mut n).await, std::slice::from_ref(&key));
        }
        3 => {
            // A writer process dies before reading its configset reply.
            let doomed_task = w.task("doomed", 501);
            extra_tasks.push(doomed_task.clone());
            let doomed = Space::from_task(doomed_task.clone());
            let writer = bounded("open", Session::open(&doomed)).await.unwrap();
            let h = k.faults().on_deliver(
                MsgMatch::any()
                    .task(&doomed_task)
                    .id(Routine::ConfigSet.reply_id()),
                FaultAction::TerminateTask(doomed_task.clone()),
            );
            assert!(bounded("set", writer.set(&key, b"1")).await.is_err());
            drop(writer);
            assert_eq!(next_batch(&mut n).await, std::slice::from_ref(&key));
            c.fired(&h);
            assert_eq!(h.fired(), 1);
        }
        _ => {
            let writer = bounded("open", Session::open(&client)).await.unwrap();
            bounded("set", writer.set(&key, b"1")).await.unwrap();
            assert_eq!(next_batch(&mut n).await, std::slice::from_ref(&key));
        }
    }
    c.batches += 1;
    bounded("close", n.close()).await;
    drop(watcher);
    if let Some(configd) = configd {
        bounded("configd close", configd.close()).await;
    }
    for t in extra_tasks.iter().chain([&client_task, &configd_task]) {
        end_task(t);
    }
}

// ---- iokit ----------------------------------------------------------------------------------

async fn iokit_round(w: &mut World, plan: Plan, c: &mut Counts) {
    let task = w.task("client", 0);
    let registry = SimRegistry::new(&w.kernel);
    let dev = registry.open(&task);
    let port = NotificationPort::open(&Space::from_task(task.clone()))
        .await
        .expect("port");
    let (_, mut kept) = port
        .watch(&Criteria::all().class("soak"), EventKinds::ARRIVE)
        .expect("watch");
    let k = w.kernel.clone();
    let fault = plan.fault;
    const DEVICES: u32 = 3;
    let handle = match fault {
        1 => Some(
            k.faults()
                .fail_next_receives_in(&task, 2, MACH_RCV_INTERRUPTED),
        ),
        2 => {
            let (_, other) = port
                .watch(&Criteria::all().class("soak"), EventKinds::ARRIVE)
                .expect("watch");
            let slot = Arc::new(Mutex::new(Some(other)));
            Some(k.faults().on_deliver(
                MsgMatch::any().task(&task).id(IOKIT_NOTIFY_MSG_ID),
                FaultAction::call(move || drop(slot.lock().unwrap().take())),
            ))
        }
        3 => Some(k.faults().on_receive(
            MsgMatch::any().task(&task).nth(2),
            FaultAction::TerminateTask(task.clone()),
        )),
        _ => None,
    };
    for i in 0..DEVICES {
        registry.probe_and_attach(SimDevice::new(&format!("soak{i}")).class("soak"));
    }
    let mut got = 0;
    if fault == 3 {
        while bounded("event", kept.next()).await.is_some() {
            got += 1;
        }
        assert!(got < DEVICES, "the stream ended at the death");
    } else {
        for _ in 0..DEVICES {
            bounded("event", kept.next())
                .await
                .expect("open")
                .expect("no stream error");
            got += 1;
        }
    }
    c.events += got;
    if let Some(h) = &handle {
        c.fired(h);
        assert!(h.fired() > 0, "iokit fault {fault} took effect");
    }
    drop(kept);
    bounded("close", port.close()).await;
    // One emission prunes every kernel watch whose port is gone.
    let _ = dev.test_event(&ioreg_test_event {
        kind: IOREG_EVENT_DEPART,
        id: u64::MAX,
        name: encode_name_truncating(""),
        classname: encode_name_truncating(""),
        ..ioreg_test_event::default()
    });
    assert_eq!(registry.watch_count(), 0);
    drop(dev);
    drop(registry);
    k.faults().clear();
    end_task(&task);
}

/// Prints the seed and round of a failing round (a panic in the round, or a hang turned into
/// one by [`bounded`]) and how to replay it.
struct FailureReport {
    seed: u64,
    round: u64,
    plan: Plan,
}

impl Drop for FailureReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let FailureReport { seed, round, plan } = *self;
            eprintln!(
                "soak: FAILED at seed {seed}, round {round} ({plan:?}); replay with \
                 SOAK_SEED={seed} SOAK_START_ROUND={round} SOAK_ITERATIONS={} \
                 cargo test -p soak --release -- --ignored --nocapture",
                round + 1
            );
        }
    }
}

/// The run's settings, from the environment (README, Reliability).
struct Settings {
    /// `SOAK_SEED` (default 1).
    seed: u64,
    /// `SOAK_ITERATIONS`: the round to stop before (default 300).
    iterations: u64,
    /// `SOAK_START_ROUND`: the first round run (default 0); the rounds before it are drawn
    /// but not run, so round numbers and faults are those of the whole run.
    start: u64,
    /// `SOAK_SECONDS`: stop after the round during which this much time has passed (default:
    /// no limit; the run is then `SOAK_ITERATIONS` rounds).
    seconds: Option<u64>,
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            seed: env_u64("SOAK_SEED", 1),
            iterations: env_u64("SOAK_ITERATIONS", 300),
            start: env_u64("SOAK_START_ROUND", 0),
            seconds: std::env::var("SOAK_SECONDS")
                .ok()
                .and_then(|v| v.parse().ok()),
        }
    }
}

#[test]
#[ignore = "soak test: run with --ignored (README, Reliability)"]
fn three_consumers_under_random_faults() {
    let Settings {
        seed,
        iterations,
        start,
        seconds,
    } = Settings::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut world = World {
        kernel: Kernel::new(),
        next_pid: 1000,
    };
    let mut rng = Rng::new(seed);
    Plan::skip(&mut rng, start);
    let mut c = Counts::default();
    let mut recorder = Recorder::with_capacity(iterations.saturating_sub(start));
    let budget = seconds.map(Duration::from_secs);
    eprintln!(
        "soak: seed {seed}, rounds {start}..{iterations}{}",
        budget.map_or(String::new(), |b| format!(", at most {b:?}"))
    );
    let began = Instant::now();
    recorder.start();
    let mut end = start;
    rt.block_on(async {
        for round in start..iterations {
            if budget.is_some_and(|b| began.elapsed() >= b) {
                break;
            }
            let plan = Plan::draw(&mut rng);
            let report = FailureReport { seed, round, plan };
            let t0 = Instant::now();
            match plan.scenario {
                Scenario::Ipconfig => {
                    c.rounds[0] += 1;
                    ipconfig_round(&mut world, plan, &mut c).await
                }
                Scenario::Scnotify => {
                    c.rounds[1] += 1;
                    scnotify_round(&mut world, round, plan, &mut c).await
                }
                Scenario::Iokit => {
                    c.rounds[2] += 1;
                    iokit_round(&mut world, plan, &mut c).await
                }
            }
            world.kernel.faults().clear();
            // Each round leaves nothing behind (the C ABI's global kernel is not involved).
            world.kernel.assert_no_leaks();
            drop(report);
            recorder.round(t0.elapsed());
            end = round + 1;
            if (end - start) % PROGRESS_EVERY == 0 {
                eprintln!(
                    "soak: seed {seed}, round {end}, {:.0} s, RSS {} KiB",
                    began.elapsed().as_secs_f64(),
                    soak::rss_kib().unwrap_or(0)
                );
            }
        }
    });
    drop(rt);
    world.kernel.assert_no_leaks();
    let ran = end - start;
    eprintln!(
        "soak: seed {seed}, rounds {start}..{end} ({ran} rounds) in {:.1} s: {c:?}",
        began.elapsed().as_secs_f64()
    );
    assert_eq!(c.rounds.iter().sum::<u32>() as u64, ran);
    assert_eq!(
        c.faults_fired, c.faults_armed,
        "every armed fault took effect"
    );
    if ran >= 30 {
        assert!(c.rounds.iter().all(|&r| r > 0), "every consumer ran");
        assert!(c.rpc_ok > 0 && c.rpc_err > 0 && c.batches > 0 && c.events > 0);
    }
    match recorder.report() {
        Some(report) => {
            eprintln!("{report}");
            let broken = report.violations();
            assert!(
                broken.is_empty(),
                "soak: seed {seed}: time or memory per round grew over the run: {broken:?}"
            );
        }
        None => eprintln!(
            "soak: {ran} rounds: too few to compare time and memory (at least {} needed)",
            soak::Report::MIN_ROUNDS
        ),
    }
}
