//! A budget of threads shared by the parts of one job.
//!
//! A job run with `-j N` may keep at most `N` threads busy. The engine holds
//! one [`Slot`] for each file being converted; a stage that can split its
//! work (the FLAC encoder encodes batches of frames in parallel) borrows the
//! slots nobody holds, for a batch at a time, and gives them back at once.
//! So when a job has fewer files left than threads, the files still running
//! use the idle threads, and the job never runs more than `N` threads at a
//! time.
//!
//! Nothing here blocks: a slot is taken when free or not at all
//! ([`ThreadBudget::try_acquire`]), so a budget cannot deadlock, whoever
//! stops or is cancelled. A [`Slot`] goes back to its budget when dropped.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// `N` slots, each allowing one thread to work for a job. Clones share the
/// same slots.
#[derive(Clone)]
pub struct ThreadBudget {
    inner: Arc<Inner>,
}

struct Inner {
    total: usize,
    free: AtomicUsize,
    /// Slots taken since the budget was made.
    taken: AtomicU64,
}

impl ThreadBudget {
    /// A budget of `total` slots (at least one), all free.
    pub fn new(total: usize) -> Self {
        let total = total.max(1);
        ThreadBudget {
            inner: Arc::new(Inner {
                total,
                free: AtomicUsize::new(total),
                taken: AtomicU64::new(0),
            }),
        }
    }

    /// Slots in all.
    pub fn total(&self) -> usize {
        self.inner.total
    }

    /// Slots nobody holds at this moment.
    pub fn free(&self) -> usize {
        self.inner.free.load(Ordering::Acquire)
    }

    /// Slots held at this moment.
    pub fn in_use(&self) -> usize {
        self.inner.total - self.free()
    }

    /// How many times a slot was taken since the budget was made (a
    /// statistic: how often its slots changed hands).
    pub fn taken(&self) -> u64 {
        self.inner.taken.load(Ordering::Acquire)
    }

    /// Takes a free slot, or returns `None` at once when all are held.
    pub fn try_acquire(&self) -> Option<Slot> {
        self.inner
            .free
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |f| f.checked_sub(1))
            .ok()
            .map(|_| {
                self.inner.taken.fetch_add(1, Ordering::AcqRel);
                Slot {
                    inner: Arc::clone(&self.inner),
                }
            })
    }

    /// Takes up to `n` free slots (fewer, maybe none, when fewer are free).
    pub fn try_acquire_many(&self, n: usize) -> Vec<Slot> {
        let mut slots = Vec::with_capacity(n.min(self.inner.total));
        while slots.len() < n {
            match self.try_acquire() {
                Some(s) => slots.push(s),
                None => break,
            }
        }
        slots
    }
}

impl fmt::Debug for ThreadBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadBudget")
            .field("total", &self.total())
            .field("free", &self.free())
            .finish()
    }
}

/// Two budgets are equal when they share their slots (one is a clone of the
/// other).
impl PartialEq for ThreadBudget {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// One slot of a [`ThreadBudget`], held until dropped.
#[must_use = "a slot goes back to its budget when dropped"]
pub struct Slot {
    inner: Arc<Inner>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.inner.free.fetch_add(1, Ordering::AcqRel);
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("of", &self.inner.total)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn slots_are_taken_and_given_back() {
        let b = ThreadBudget::new(2);
        assert_eq!((b.total(), b.free(), b.in_use()), (2, 2, 0));
        let one = b.try_acquire().unwrap();
        let two = b.clone().try_acquire().unwrap();
        assert_eq!(b.in_use(), 2);
        assert!(b.try_acquire().is_none(), "a third slot of two");
        drop(one);
        assert_eq!(b.free(), 1);
        let again = b.try_acquire_many(5);
        assert_eq!(again.len(), 1);
        drop((two, again));
        assert_eq!(b.free(), 2);
        assert_eq!(b.taken(), 3);
        assert_eq!(ThreadBudget::new(0).total(), 1);
        assert_eq!(b, b.clone());
        assert_ne!(b, ThreadBudget::new(2));
    }

    /// Threads taking and returning slots as fast as they can never hold
    /// more than the total at once, and every slot comes back.
    #[test]
    fn never_more_than_total_in_use() {
        let b = ThreadBudget::new(3);
        let held = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for i in 0..20_000 {
                        let slots = b.try_acquire_many(1 + i % 3);
                        let now = held.fetch_add(slots.len(), Ordering::SeqCst) + slots.len();
                        most.fetch_max(now, Ordering::SeqCst);
                        held.fetch_sub(slots.len(), Ordering::SeqCst);
                        drop(slots);
                    }
                });
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 3);
        assert!(most.load(Ordering::SeqCst) >= 1);
        assert_eq!(b.free(), 3);
    }
}
