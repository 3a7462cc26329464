//! Bounded channels between pipeline stages that count every item they drop.
//!
//! A sensor that must never block (a ring-buffer reader, a UDP socket) calls
//! [`BusSender::try_send`]: when the queue is full the item is dropped and counted. A source that
//! can wait without losing data (a file tail) calls [`BusSender::send`] and applies back-pressure.
//!
//! Items get their position on the bus in the order they are queued (`sent` counts them), and a
//! reader that finishes its work after taking items off (detection once the alerts are stored,
//! the store writer once they are committed) acknowledges positions with
//! [`BusReceiver::ack`]. A sender that sent up to position `p` knows that everything it sent is
//! done once [`BusSender::acked`] reaches `p`: the file tail saves a checkpoint only then, so
//! that a `kill -9` never skips lines. A reader that does not ask for manual acknowledgement
//! acknowledges what it takes off.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

/// Counters of one bus, shared by its senders and readable by status and metrics.
#[derive(Debug, Default)]
pub struct BusStats {
    sent: AtomicU64,
    dropped: AtomicU64,
    received: AtomicU64,
    acked: AtomicU64,
    manual_ack: std::sync::atomic::AtomicBool,
    /// Held while an item is queued and counted, so positions follow the queue's order.
    order: std::sync::Mutex<()>,
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

    /// The position up to which the reader has finished with the items.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Acquire)
    }

    fn took(&self, n: u64) {
        let received = self.received.fetch_add(n, Ordering::AcqRel) + n;
        if !self.manual_ack.load(Ordering::Relaxed) {
            self.acked.fetch_max(received, Ordering::AcqRel);
        }
    }

    /// Queues with `queue` under the order lock and counts the position.
    fn queue(&self, queue: impl FnOnce()) {
        let _order = self.order.lock().unwrap_or_else(|e| e.into_inner());
        queue();
        self.sent.fetch_add(1, Ordering::AcqRel);
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
        match self.tx.try_reserve() {
            Ok(permit) => {
                self.stats.queue(|| permit.send(item));
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(())) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                Err(SendError::Full(item))
            }
            Err(mpsc::error::TrySendError::Closed(())) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                Err(SendError::Closed(item))
            }
        }
    }

    /// Puts `item` on the bus, waiting for room; only a closed bus drops (and counts) it.
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        match self.tx.reserve().await {
            Ok(permit) => {
                self.stats.queue(|| permit.send(item));
                Ok(())
            }
            Err(mpsc::error::SendError(())) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                Err(SendError::Closed(item))
            }
        }
    }

    /// The position of the last item queued so far: once [`BusSender::acked`] reaches the
    /// value read after a send, the reader has finished with that item.
    pub fn sent(&self) -> u64 {
        self.stats.sent.load(Ordering::Acquire)
    }

    /// The position up to which the reader has finished with the items.
    pub fn acked(&self) -> u64 {
        self.stats.acked()
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
            self.stats.took(1);
        }
        item
    }

    /// Moves up to `limit` waiting items into `buf`, waiting only for the first; returns how many.
    pub async fn recv_many(&mut self, buf: &mut Vec<T>, limit: usize) -> usize {
        let n = self.rx.recv_many(buf, limit).await;
        self.stats.took(n as u64);
        n
    }

    /// The next item if one is waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        let item = self.rx.try_recv().ok();
        if item.is_some() {
            self.stats.took(1);
        }
        item
    }

    /// From now on items taken off are acknowledged only by [`BusReceiver::ack`].
    pub fn manual_ack(&mut self) {
        self.stats.manual_ack.store(true, Ordering::Relaxed);
    }

    /// How many items were taken off so far: the position of the last one.
    pub fn received(&self) -> u64 {
        self.stats.received()
    }

    /// Acknowledges every item up to position `upto` as done.
    pub fn ack(&self, upto: u64) {
        self.stats.acked.fetch_max(upto, Ordering::AcqRel);
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
    async fn positions_follow_the_queue_and_acks_reach_senders() {
        let (tx, mut rx) = bus::<u32>("test", 8);
        let other = tx.clone();
        tx.send(1).await.unwrap();
        other.try_send(2).unwrap();
        let mark = tx.sent();
        assert_eq!(mark, 2);
        rx.manual_ack();
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(tx.acked(), 0, "taken off is not done");
        rx.ack(rx.received());
        assert_eq!(tx.acked(), 1);
        assert_eq!(rx.recv().await, Some(2));
        rx.ack(rx.received());
        assert!(tx.acked() >= mark);
    }

    #[tokio::test]
    async fn a_reader_without_manual_ack_acknowledges_what_it_takes() {
        let (tx, mut rx) = bus::<u32>("test", 8);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        let mut buf = Vec::new();
        assert_eq!(rx.recv_many(&mut buf, 8).await, 2);
        assert_eq!(tx.acked(), 2);
    }

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
