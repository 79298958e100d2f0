//! Frames encoded on helper threads, written in order.
//!
//! The calling thread cuts the input into batches of whole blocks, each
//! starting at a frame number that is a multiple of
//! [`Frames::independent_run`] (so adaptive stereo decides on the same
//! frames as on one thread), and queues them. Helper threads, each with its
//! own [`Frames`] encoder, take batches from the queue, but only while they
//! hold a slot of the job's [`ThreadBudget`]: the calling thread lends them
//! the slots that are free when it queues a batch (starting a helper when
//! none is idle), and a helper gives its slot back after every batch,
//! keeping it only if it is still free then. With no free slot (the job's
//! other threads busy with other files), the calling thread encodes the
//! queued batches itself, so nothing waits for a thread that will not come.
//! It also hashes the input for the MD5 and writes the frames, and encodes
//! whenever more batches are queued than helpers can take, which on two
//! cores would otherwise make it the bottleneck.
//!
//! Batches are written in the order they were cut, whoever encoded them, so
//! the stream, its seek table and STREAMINFO are byte for byte those of one
//! thread. A bounded number of batches is in flight: memory stays bounded
//! whatever the length of the input.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use aj_core::{Slot, ThreadBudget};

use super::own::Frames;
use crate::Error;

/// One batch: interleaved samples of whole blocks (the last block of the
/// stream may be short) and, once encoded, their frames.
#[derive(Default)]
pub(super) struct Batch {
    /// Frame number of the first block.
    pub(super) first_frame: u64,
    pub(super) samples: Vec<i32>,
    /// The frames, one after another.
    pub(super) bytes: Vec<u8>,
    /// Byte length of each frame.
    pub(super) lens: Vec<u32>,
}

/// Encodes every block of `batch.samples` (`whole` samples each, the last
/// one possibly shorter) into `batch.bytes` and `batch.lens`.
pub(super) fn encode_batch(enc: &mut Frames, batch: &mut Batch, whole: usize) {
    batch.bytes.clear();
    batch.lens.clear();
    let blocks = batch.samples.chunks(whole.max(1));
    for (frame, block) in (batch.first_frame..).zip(blocks) {
        let before = batch.bytes.len();
        enc.encode(block, frame, &mut batch.bytes);
        batch.lens.push((batch.bytes.len() - before) as u32);
    }
}

/// A queued batch and where its frames go.
type Work = (Batch, Sender<Batch>);

/// What the calling thread and the helpers share.
struct Shared {
    state: Mutex<State>,
    /// Signalled when work is queued, a slot is lent, or the pool closes.
    wake: Condvar,
}

struct State {
    /// Batches no thread has taken yet, oldest first.
    queue: VecDeque<Work>,
    /// Slots lent by the calling thread, not yet picked up by a helper.
    lent: Vec<Slot>,
    /// Helpers holding no slot (waiting for one, or about to give theirs
    /// back).
    idle: usize,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Helper threads and the batches in flight, oldest first.
pub(super) struct Pool {
    shared: Arc<Shared>,
    budget: ThreadBudget,
    helpers: Vec<JoinHandle<()>>,
    max_helpers: usize,
    /// Makes a helper's encoder.
    make: Box<dyn Fn() -> Frames + Send>,
    whole: usize,
    in_flight: VecDeque<Receiver<Batch>>,
    max_in_flight: usize,
}

impl Pool {
    /// A pool of up to `max_helpers` helper threads, each with the encoder
    /// `make` returns, working while they hold a slot of `budget`; blocks
    /// are `whole` interleaved samples long. No thread starts before a slot
    /// is free.
    pub(super) fn new(
        max_helpers: usize,
        whole: usize,
        budget: ThreadBudget,
        make: impl Fn() -> Frames + Send + 'static,
    ) -> Self {
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    lent: Vec::new(),
                    idle: 0,
                    closed: false,
                }),
                wake: Condvar::new(),
            }),
            budget,
            helpers: Vec::with_capacity(max_helpers),
            max_helpers,
            make: Box::new(make),
            whole,
            in_flight: VecDeque::new(),
            // Each helper busy with one batch and two more queued for it,
            // so that none runs dry while the caller encodes a batch itself.
            max_in_flight: 3 * max_helpers.max(1) + 2,
        }
    }

    /// Batches in flight (queued, being encoded, or encoded and waiting
    /// for older ones).
    pub(super) fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// True when the bound on batches in flight is reached: take the
    /// oldest back before adding another.
    pub(super) fn full(&self) -> bool {
        self.in_flight.len() >= self.max_in_flight
    }

    /// Queues a batch, lends the budget's free slots to helpers for it, and
    /// encodes with `enc` (on the calling thread) the oldest queued batches
    /// that no helper is there to take.
    pub(super) fn send(&mut self, batch: Batch, enc: &mut Frames) {
        let (reply, back) = mpsc::channel();
        self.in_flight.push_back(back);
        let shared = Arc::clone(&self.shared);
        let mut st = shared.lock();
        st.queue.push_back((batch, reply));
        self.lend(&mut st);
        // Helpers holding a slot or about to: each is left one batch
        // waiting beside the one it is encoding; the caller takes the rest.
        let helping = self.helpers.len().saturating_sub(st.idle) + st.lent.len();
        while st.queue.len() > helping {
            let Some(work) = st.queue.pop_front() else {
                break;
            };
            drop(st);
            self.encode_here(work, enc);
            st = shared.lock();
        }
    }

    /// Lends free slots to helpers, as many as queued batches need and
    /// helpers can use, starting helpers when none is idle.
    fn lend(&mut self, st: &mut State) {
        let waiting = st.idle.saturating_sub(st.lent.len());
        let startable = self.max_helpers - self.helpers.len();
        let wanted = st
            .queue
            .len()
            .saturating_sub(st.lent.len())
            .min(waiting + startable);
        let mut lent = 0;
        while lent < wanted {
            let Some(slot) = self.budget.try_acquire() else {
                break;
            };
            if lent >= waiting && !self.start_helper(st) {
                break;
            }
            st.lent.push(slot);
            lent += 1;
        }
        if lent > 0 {
            self.shared.wake.notify_all();
        }
    }

    /// Starts one more helper (idle until it picks up a lent slot); false
    /// when the system refuses a thread, in which case the caller does the
    /// work.
    fn start_helper(&mut self, st: &mut State) -> bool {
        let shared = Arc::clone(&self.shared);
        let budget = self.budget.clone();
        let enc = (self.make)();
        let whole = self.whole;
        let started = std::thread::Builder::new()
            .name(format!("flac-encode-{}", self.helpers.len()))
            .spawn(move || helper(&shared, &budget, enc, whole));
        match started {
            Ok(h) => {
                self.helpers.push(h);
                st.idle += 1;
                true
            }
            Err(_) => false,
        }
    }

    fn encode_here(&self, (mut batch, reply): Work, enc: &mut Frames) {
        encode_batch(enc, &mut batch, self.whole);
        // The receiver is ours, in `in_flight`, unless the pool is being
        // dropped, when no one wants the frames.
        let _ = reply.send(batch);
    }

    /// The oldest batch, encoded: waits for it when `wait` (encoding queued
    /// batches with `enc` meanwhile rather than sitting idle), else returns
    /// `None` when it is not ready (or nothing is in flight).
    pub(super) fn take(&mut self, wait: bool, enc: &mut Frames) -> Result<Option<Batch>, Error> {
        loop {
            let Some(rx) = self.in_flight.front() else {
                return Ok(None);
            };
            match rx.try_recv() {
                Ok(b) => {
                    self.in_flight.pop_front();
                    return Ok(Some(b));
                }
                Err(TryRecvError::Disconnected) => return Err(stopped()),
                Err(TryRecvError::Empty) if !wait => return Ok(None),
                Err(TryRecvError::Empty) => {}
            }
            // Not ready: encode a queued batch here, or, when none is left
            // (a helper has the oldest), wait for it.
            let queued = self.shared.lock().queue.pop_front();
            match queued {
                Some(work) => self.encode_here(work, enc),
                None => {
                    let b = rx.recv().map_err(|_| stopped())?;
                    self.in_flight.pop_front();
                    return Ok(Some(b));
                }
            }
        }
    }

    /// Helper threads started so far (for tests).
    #[cfg(test)]
    pub(super) fn helpers(&self) -> usize {
        self.helpers.len()
    }
}

/// A helper's life: wait for a lent slot and queued work, encode a batch,
/// give the slot back (keeping it when it is still free), until the pool
/// closes.
fn helper(shared: &Shared, budget: &ThreadBudget, mut enc: Frames, whole: usize) {
    let mut slot: Option<Slot> = None;
    let mut st = shared.lock();
    loop {
        if st.closed {
            return;
        }
        if slot.is_none() {
            if let Some(s) = st.lent.pop() {
                slot = Some(s);
                st.idle -= 1;
            }
        }
        if slot.is_some() {
            match st.queue.pop_front() {
                Some((mut batch, reply)) => {
                    drop(st);
                    encode_batch(&mut enc, &mut batch, whole);
                    // The encoder may be gone (dropped on an error): no one
                    // wants the frames then.
                    let _ = reply.send(batch);
                    // Back to the budget after every batch, so that a file
                    // or another encoder of the job can have it.
                    drop(slot.take());
                    slot = budget.try_acquire();
                    st = shared.lock();
                    if slot.is_none() {
                        st.idle += 1;
                    }
                    continue;
                }
                None => {
                    slot = None;
                    st.idle += 1;
                }
            }
        }
        st = shared.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
    }
}

fn stopped() -> Error {
    Error::Encode("a FLAC encoder thread stopped unexpectedly".into())
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing ends every helper once its batch is done; queued batches
        // and lent slots are dropped, the slots going back to the budget.
        {
            let mut st = self.shared.lock();
            st.closed = true;
            st.queue.clear();
            st.lent.clear();
        }
        self.shared.wake.notify_all();
        self.in_flight.clear();
        for h in self.helpers.drain(..) {
            let _ = h.join();
        }
    }
}
