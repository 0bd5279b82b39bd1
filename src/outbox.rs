//! What the outbox workers share (the logout outbox's in `oidc::logout::outbox`, the
//! notification outbox's in `notify::worker`): the guard of a row being sent, so that a
//! row claimed again while its send still runs (a lease outrun by a moved clock) is not
//! sent twice by one server, and the doubling wait between attempts.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;

/// The ids of the rows a worker is sending.
pub type InFlightIds = Arc<Mutex<HashSet<i64>>>;

/// One row being sent: frees its slot and forgets its id when the send ends or is
/// aborted.
pub struct InFlight {
    ids: InFlightIds,
    id: i64,
    _permit: OwnedSemaphorePermit,
}

impl InFlight {
    /// Marks row `id` as being sent, holding `permit` until the send ends; `None` if
    /// this worker is sending it already.
    pub fn start(ids: &InFlightIds, id: i64, permit: OwnedSemaphorePermit) -> Option<InFlight> {
        let fresh = ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(id);
        fresh.then(|| InFlight {
            ids: ids.clone(),
            id,
            _permit: permit,
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.id);
    }
}

/// The wait after failed attempt `attempt` (1-based): `base_ms`, doubling each time
/// (at most 2¹⁶ times the base).
pub fn doubling_wait(base_ms: u64, attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    Duration::from_millis(base_ms).saturating_mul(1 << doublings)
}
