//! Bounded channels between pipeline stages that count every item they drop.
//!
//! A sensor that must never block (a ring-buffer reader, a UDP socket) calls
//! [`BusSender::try_send`]: when the queue is full the item is dropped and counted. A source that
//! can wait without losing data (a file tail) calls [`BusSender::send`] and applies back-pressure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

/// Counters of one bus, shared by its senders and readable by status and metrics.
#[derive(Debug, Default)]
pub struct BusStats {
    sent: AtomicU64,
    dropped: AtomicU64,
    received: AtomicU64,
}

impl BusStats {
    /// Items accepted onto the bus.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Items dropped because the bus was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Items taken off the bus by its reader.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// A snapshot of a bus for status output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BusSnapshot {
    /// The bus name.
    pub name: String,
    /// Its capacity.
    pub capacity: usize,
    /// Items waiting.
    pub queued: u64,
    /// Items accepted.
    pub sent: u64,
    /// Items dropped.
    pub dropped: u64,
}

/// Why an item did not get onto the bus; the item is handed back.
#[derive(Debug)]
pub enum SendError<T> {
    /// The bus is full (counted as a drop).
    Full(T),
    /// The reader is gone (counted as a drop).
    Closed(T),
}

/// The sending half of a bus. Cheap to clone.
#[derive(Debug)]
pub struct BusSender<T> {
    name: &'static str,
    capacity: usize,
    tx: mpsc::Sender<T>,
    stats: Arc<BusStats>,
}

impl<T> Clone for BusSender<T> {
    fn clone(&self) -> Self {
        BusSender {
            name: self.name,
            capacity: self.capacity,
            tx: self.tx.clone(),
            stats: self.stats.clone(),
        }
    }
}

/// The receiving half of a bus.
#[derive(Debug)]
pub struct BusReceiver<T> {
    rx: mpsc::Receiver<T>,
    stats: Arc<BusStats>,
}

/// A bus named `name` holding at most `capacity` items.
pub fn bus<T>(name: &'static str, capacity: usize) -> (BusSender<T>, BusReceiver<T>) {
    let capacity = capacity.max(1);
    let (tx, rx) = mpsc::channel(capacity);
    let stats = Arc::new(BusStats::default());
    (
        BusSender {
            name,
            capacity,
            tx,
            stats: stats.clone(),
        },
        BusReceiver { rx, stats },
    )
}

impl<T> BusSender<T> {
    /// Puts `item` on the bus without waiting; a full or closed bus drops it and counts the drop.
    pub fn try_send(&self, item: T) -> Result<(), SendError<T>> {
        match self.tx.try_send(item) {
            Ok(()) => {
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(item)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                Err(SendError::Full(item))
            }
            Err(mpsc::error::TrySendError::Closed(item)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                Err(SendError::Closed(item))
            }
        }
    }

    /// Puts `item` on the bus, waiting for room; only a closed bus drops (and counts) it.
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        match self.tx.send(item).await {
            Ok(()) => {
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::SendError(item)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                Err(SendError::Closed(item))
            }
        }
    }

    /// The bus's counters.
    pub fn stats(&self) -> &Arc<BusStats> {
        &self.stats
    }

    /// The bus name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A snapshot of the bus's state.
    pub fn snapshot(&self) -> BusSnapshot {
        let queued = (self.capacity - self.tx.capacity()) as u64;
        BusSnapshot {
            name: self.name.to_owned(),
            capacity: self.capacity,
            queued,
            sent: self.stats.sent(),
            dropped: self.stats.dropped(),
        }
    }
}

impl<T> BusReceiver<T> {
    /// The next item, or `None` when every sender is gone and the bus is empty.
    pub async fn recv(&mut self) -> Option<T> {
        let item = self.rx.recv().await;
        if item.is_some() {
            self.stats.received.fetch_add(1, Ordering::Relaxed);
        }
        item
    }

    /// Moves up to `limit` waiting items into `buf`, waiting only for the first; returns how many.
    pub async fn recv_many(&mut self, buf: &mut Vec<T>, limit: usize) -> usize {
        let n = self.rx.recv_many(buf, limit).await;
        self.stats.received.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// The next item if one is waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        let item = self.rx.try_recv().ok();
        if item.is_some() {
            self.stats.received.fetch_add(1, Ordering::Relaxed);
        }
        item
    }

    /// Stops accepting new items; items already queued can still be received (used to drain).
    pub fn close(&mut self) {
        self.rx.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_bus_drops_and_counts() {
        let (tx, mut rx) = bus::<u32>("test", 2);
        assert!(tx.try_send(1).is_ok());
        assert!(tx.try_send(2).is_ok());
        assert!(matches!(tx.try_send(3), Err(SendError::Full(3))));
        assert!(matches!(tx.try_send(4), Err(SendError::Full(4))));
        let snap = tx.snapshot();
        assert_eq!((snap.sent, snap.dropped, snap.queued), (2, 2, 2));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.stats.received(), 2);
        assert_eq!(tx.snapshot().queued, 0);
    }

    #[tokio::test]
    async fn a_closed_bus_counts_drops() {
        let (tx, rx) = bus::<u32>("test", 4);
        drop(rx);
        assert!(matches!(tx.try_send(1), Err(SendError::Closed(1))));
        assert!(matches!(tx.send(2).await, Err(SendError::Closed(2))));
        assert_eq!(tx.stats().dropped(), 2);
    }

    #[tokio::test]
    async fn closing_lets_the_reader_drain() {
        let (tx, mut rx) = bus::<u32>("test", 4);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        rx.close();
        assert!(tx.try_send(3).is_err());
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        assert_eq!(got, vec![1, 2]);
    }
}
