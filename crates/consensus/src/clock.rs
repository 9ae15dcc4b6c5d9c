//! The slot clock: slot = floor(unix_ms / slotDurationMs), with an injectable time source.
//!
//! Production uses [`SystemTimeSource`]; tests use [`ManualTimeSource`] and drive slots by
//! hand, so a hundred 1-second slots run as fast as the machine allows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where the current time comes from.
pub trait TimeSource: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemTimeSource;

impl TimeSource for SystemTimeSource {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Clone, Default)]
pub struct ManualTimeSource(Arc<AtomicU64>);

impl ManualTimeSource {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self(Arc::new(AtomicU64::new(now_ms)))
    }

    /// Set the time.
    pub fn set_ms(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
}

impl TimeSource for ManualTimeSource {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Slot arithmetic over a time source.
#[derive(Clone)]
pub struct SlotClock {
    slot_duration_ms: u64,
    time: Arc<dyn TimeSource>,
}

impl std::fmt::Debug for SlotClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotClock")
            .field("slot_duration_ms", &self.slot_duration_ms)
            .finish()
    }
}

impl SlotClock {
    /// A clock with `slot_duration_ms` (validated > 0 by the chain spec; 0 is treated as 1).
    pub fn new(slot_duration_ms: u64, time: Arc<dyn TimeSource>) -> Self {
        Self {
            slot_duration_ms: slot_duration_ms.max(1),
            time,
        }
    }

    /// A clock on the system time.
    pub fn system(slot_duration_ms: u64) -> Self {
        Self::new(slot_duration_ms, Arc::new(SystemTimeSource))
    }

    /// Slot duration.
    pub fn slot_duration(&self) -> Duration {
        Duration::from_millis(self.slot_duration_ms)
    }

    /// Milliseconds since the epoch.
    pub fn now_ms(&self) -> u64 {
        self.time.now_ms()
    }

    /// The current slot.
    pub fn current_slot(&self) -> u64 {
        self.now_ms() / self.slot_duration_ms
    }

    /// Start of `slot` in ms (saturating).
    pub fn slot_start_ms(&self, slot: u64) -> u64 {
        slot.saturating_mul(self.slot_duration_ms)
    }

    /// Start of `slot` in whole seconds: the payload timestamp of a block at `slot`.
    pub fn slot_start_secs(&self, slot: u64) -> u64 {
        self.slot_start_ms(slot) / 1000
    }

    /// Time until the next slot starts.
    pub fn until_next_slot(&self) -> Duration {
        let now = self.now_ms();
        let next = (now / self.slot_duration_ms + 1) * self.slot_duration_ms;
        Duration::from_millis(next - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_from_manual_time() {
        let t = ManualTimeSource::new(10_999);
        let c = SlotClock::new(2000, Arc::new(t.clone()));
        assert_eq!(c.current_slot(), 5);
        assert_eq!(c.slot_start_secs(5), 10);
        assert_eq!(c.until_next_slot(), Duration::from_millis(1001));
        t.set_ms(12_000);
        assert_eq!(c.current_slot(), 6);
        assert_eq!(c.until_next_slot(), Duration::from_millis(2000));
    }
}
