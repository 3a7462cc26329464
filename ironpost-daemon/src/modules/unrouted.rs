//! Takes events off the event bus when no detection module consumes them, counting them, so the
//! bus never fills up behind a missing reader.

use std::sync::Arc;

use ironpost_core::Event;
use ironpost_core::bus::BusReceiver;
use ironpost_core::module::{Module, ModuleContext, ModuleFuture};
use tokio::sync::Mutex;

/// Counts and discards events.
pub struct Unrouted {
    rx: Mutex<BusReceiver<Event>>,
}

impl Unrouted {
    /// Reads from `rx`.
    pub fn new(rx: BusReceiver<Event>) -> Self {
        Unrouted { rx: Mutex::new(rx) }
    }
}

impl Module for Unrouted {
    fn name(&self) -> &'static str {
        "unrouted"
    }

    fn run(self: Arc<Self>, mut ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let mut rx = self.rx.lock().await;
            let counted = ctx.counters.counter("events_discarded");
            ctx.health.healthy();
            let mut buf = Vec::with_capacity(256);
            loop {
                tokio::select! {
                    n = rx.recv_many(&mut buf, 256) => {
                        if n == 0 {
                            return Ok(());
                        }
                        counted.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                        buf.clear();
                    }
                    _ = ctx.shutdown.wait() => {
                        rx.close();
                        while rx.try_recv().is_some() {
                            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        return Ok(());
                    }
                }
            }
        })
    }
}
