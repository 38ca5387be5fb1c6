//! The simulated broker: the real store and queue groups over a RAM disk
//! with the fault model, run by hand in one thread (manual writer: a
//! future that waits for a commit is polled, the writer stepped, polled
//! again), so a seed replays the same schedule.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use pier_core::faults::{DiskFaults, Halt, MemoryDisk};
use pier_core::planted::PlantedBug;
use pier_core::queue::{QueueConfig, Queues};
use pier_core::{Location, ManualClock, Store, StoreOptions, TopicConfig};

pub const TOPIC: &str = "t";
pub const PARTITIONS: u32 = 2;
pub const GROUP: &str = "g";
pub const QUEUE: &str = "q";
pub const MAX_DELIVERIES: u32 = 4;
pub const LEASE_MS: u64 = 1_000;

pub struct World {
    pub disk: MemoryDisk,
    pub faults: Arc<DiskFaults>,
    pub clock: ManualClock,
    pub store: Store,
    pub queues: Queues,
    pub planted: Option<PlantedBug>,
    pub wal_switch_bytes: u64,
    rt: tokio::runtime::Runtime,
}

fn options(planted: Option<PlantedBug>, wal_switch_bytes: u64) -> StoreOptions {
    StoreOptions {
        page_cache_model: true,
        manual_writer: true,
        wal_switch_bytes,
        planted_bug: planted,
        ..StoreOptions::default()
    }
}

impl World {
    pub fn new(planted: Option<PlantedBug>, wal_switch_bytes: u64) -> Result<Self, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| e.to_string())?;
        let disk = MemoryDisk::new();
        let clock = ManualClock::new(1_000_000);
        let (faults, store, queues) = open(&rt, &disk, &clock, planted, wal_switch_bytes)?;
        let world = Self {
            disk,
            faults,
            clock,
            store,
            queues,
            planted,
            wal_switch_bytes,
            rt,
        };
        world
            .drive(
                world
                    .store
                    .create_topic(TOPIC, PARTITIONS, TopicConfig::default()),
            )
            .map_err(|e| e.to_string())?;
        let config = QueueConfig {
            lease_ms: LEASE_MS,
            max_deliveries: MAX_DELIVERIES,
            backoff_base_ms: 10,
            backoff_max_ms: 100,
            ..QueueConfig::new(TOPIC)
        };
        world
            .drive(world.queues.configure(QUEUE, config))
            .map_err(|e| e.to_string())?;
        Ok(world)
    }

    /// Runs `fut` to completion, stepping the writer whenever it waits.
    pub fn drive<T>(&self, fut: impl Future<Output = T>) -> T {
        drive(&self.rt, &self.store, fut)
    }

    /// The broker stops as `how` says and starts again on what the disk
    /// kept.
    pub fn restart(&mut self, how: Halt) -> Result<(), String> {
        self.faults.halt(how);
        let (faults, store, queues) = open(
            &self.rt,
            &self.disk,
            &self.clock,
            self.planted,
            self.wal_switch_bytes,
        )?;
        self.faults = faults;
        self.store = store;
        self.queues = queues;
        Ok(())
    }
}

fn drive<T>(rt: &tokio::runtime::Runtime, store: &Store, fut: impl Future<Output = T>) -> T {
    rt.block_on(async {
        let mut fut = pin!(fut);
        loop {
            let polled = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
            if let Poll::Ready(v) = polled {
                return v;
            }
            store.step_writer();
        }
    })
}

fn open(
    rt: &tokio::runtime::Runtime,
    disk: &MemoryDisk,
    clock: &ManualClock,
    planted: Option<PlantedBug>,
    wal_switch_bytes: u64,
) -> Result<(Arc<DiskFaults>, Store, Queues), String> {
    let faults = DiskFaults::new(true);
    let store = Store::open_with_faults(
        Location::Memory(disk.clone()),
        options(planted, wal_switch_bytes),
        Arc::new(clock.clone()),
        faults.clone(),
    )
    .map_err(|e| format!("reopen: {e}"))?;
    let queues = drive(
        rt,
        &store,
        Queues::open(store.clone(), Arc::new(clock.clone())),
    )
    .map_err(|e| format!("queues reopen: {e}"))?;
    Ok((faults, store, queues))
}
