//! Frames encoded on worker threads, written in order.
//!
//! The calling thread cuts the input into batches of whole blocks, each
//! starting at a frame number that is a multiple of
//! [`Frames::independent_run`] (so adaptive stereo decides on the same
//! frames as on one thread), and hands them to `threads - 1` workers, each
//! with its own [`Frames`] encoder; when the workers have enough queued, it
//! encodes the next batch itself rather than wait (it also hashes the input
//! for the MD5 and writes the frames, which on two cores would otherwise
//! make it the bottleneck). Batches are written in the order they were cut,
//! whoever encoded them, so the stream, its seek table and STREAMINFO are
//! byte for byte those of one thread. A bounded number of batches is in
//! flight: memory stays bounded whatever the length of the input.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

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

type Work = (Batch, Sender<Batch>);

/// A batch in flight: sent to the workers, or encoded by the caller.
enum Flight {
    Sent(Receiver<Batch>),
    Done(Batch),
}

/// Worker threads and the batches in flight, oldest first.
pub(super) struct Pool {
    jobs: Option<SyncSender<Work>>,
    workers: Vec<JoinHandle<()>>,
    in_flight: VecDeque<Flight>,
    /// Batches sent to the workers and not yet back.
    sent: usize,
    max_sent: usize,
    max_in_flight: usize,
}

impl Pool {
    /// Starts `workers` threads, each with the encoder `make` returns;
    /// blocks are `whole` interleaved samples long.
    pub(super) fn new(
        workers: usize,
        whole: usize,
        make: impl Fn() -> Frames,
    ) -> Result<Self, Error> {
        // Each worker busy with one batch and two more queued for it, so
        // that none runs dry while the caller encodes a batch itself.
        let max_sent = 3 * workers.max(1);
        let (tx, rx) = mpsc::sync_channel::<Work>(max_sent);
        let rx = Arc::new(Mutex::new(rx));
        let mut pool = Pool {
            jobs: Some(tx),
            workers: Vec::with_capacity(workers),
            in_flight: VecDeque::new(),
            sent: 0,
            max_sent,
            max_in_flight: max_sent + 2,
        };
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let mut enc = make();
            let handle = std::thread::Builder::new()
                .name(format!("flac-encode-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next batch.
                    let work = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok((mut batch, reply)) = work else {
                        return;
                    };
                    encode_batch(&mut enc, &mut batch, whole);
                    // The encoder may be gone (dropped on an error): no one
                    // wants the frames then.
                    let _ = reply.send(batch);
                })
                .map_err(|e| Error::Encode(format!("cannot start a FLAC encoder thread: {e}")))?;
            pool.workers.push(handle);
        }
        Ok(pool)
    }

    /// Batches in flight (sent, or encoded and waiting for older ones).
    pub(super) fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// True when the bound on batches in flight is reached: take the
    /// oldest back before adding another.
    pub(super) fn full(&self) -> bool {
        self.in_flight.len() >= self.max_in_flight
    }

    /// True when the workers have all the batches they can queue: the
    /// caller had better encode the next one itself.
    pub(super) fn busy(&self) -> bool {
        self.sent >= self.max_sent
    }

    /// Hands a batch to the workers; never blocks while not [`Pool::busy`].
    pub(super) fn send(&mut self, batch: Batch) -> Result<(), Error> {
        let (reply, back) = mpsc::channel();
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send((batch, reply)).map_err(|_| stopped())?;
        self.in_flight.push_back(Flight::Sent(back));
        self.sent += 1;
        Ok(())
    }

    /// Queues a batch the caller encoded, to be taken back in its turn.
    pub(super) fn push_done(&mut self, batch: Batch) {
        self.in_flight.push_back(Flight::Done(batch));
    }

    /// The oldest batch, encoded: waits for it when `wait`, else returns
    /// `None` when it is not ready (or nothing is in flight).
    pub(super) fn take(&mut self, wait: bool) -> Result<Option<Batch>, Error> {
        let got = match self.in_flight.front_mut() {
            None => return Ok(None),
            Some(Flight::Done(b)) => std::mem::take(b),
            Some(Flight::Sent(rx)) => {
                let b = if wait {
                    rx.recv().map_err(|_| stopped())?
                } else {
                    match rx.try_recv() {
                        Ok(b) => b,
                        Err(TryRecvError::Empty) => return Ok(None),
                        Err(TryRecvError::Disconnected) => return Err(stopped()),
                    }
                };
                self.sent -= 1;
                b
            }
        };
        self.in_flight.pop_front();
        Ok(Some(got))
    }
}

fn stopped() -> Error {
    Error::Encode("a FLAC encoder thread stopped unexpectedly".into())
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the queue ends every worker once its batch is done.
        self.jobs = None;
        self.in_flight.clear();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}
