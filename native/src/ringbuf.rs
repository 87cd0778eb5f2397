//! Ring-buffer consumer: a thread per reader drains the kernel ring into batches and hands
//! them to JS on the main thread, with a cap on batches JS has not finished yet.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use libbpf_sys as sys;
use napi::threadsafe_function::{
    ErrorStrategy, ThreadSafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode,
};
use napi::{JsFunction, JsUnknown};
use napi_derive::napi;

use crate::errors::{self, err, from_napi, os_err, Result};
use crate::object::{BpfObject, State};

#[napi(object)]
pub struct RingBufferOptions {
    pub poll_interval_ms: u32,
    pub max_batch_bytes: u32,
    pub max_pending_batches: u32,
}

#[napi(object)]
pub struct RingBufferStats {
    pub batches: i64,
    /// Records delivered.
    pub records: i64,
    /// Sum of delivered record lengths (headers and padding not counted).
    pub bytes: i64,
    /// Times the consumer had to stop draining because JS had maxPendingBatches unfinished.
    pub backpressure_waits: i64,
}

type BatchFn = ThreadsafeFunction<Vec<u8>, ErrorStrategy::Fatal>;

/// State shared between the JS-side handle, the consumer thread and batch completions.
struct Shared {
    stop: AtomicBool,
    pending: Mutex<usize>,
    cv: Condvar,
    max_pending: usize,
    batches: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
    waits: AtomicU64,
}

impl Shared {
    /// Blocks while JS holds max_pending unfinished batches. false = stop requested.
    fn wait_for_slot(&self) -> bool {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if *p >= self.max_pending && !self.stop.load(Ordering::SeqCst) {
            self.waits.fetch_add(1, Ordering::Relaxed);
        }
        while *p >= self.max_pending && !self.stop.load(Ordering::SeqCst) {
            p = self.cv.wait(p).unwrap_or_else(|e| e.into_inner());
        }
        !self.stop.load(Ordering::SeqCst)
    }

    fn request_stop(&self) {
        // Set under the lock so a thread between its check and cv.wait can't miss the wakeup.
        let _g = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        self.stop.store(true, Ordering::SeqCst);
        self.cv.notify_all();
    }
}

/// Dropped when JS has returned from onBatch (or the call was discarded): frees one slot.
struct PendingSlot(Arc<Shared>);

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut p = self.0.pending.lock().unwrap_or_else(|e| e.into_inner());
        *p = p.saturating_sub(1);
        self.0.cv.notify_all();
    }
}

/// Owned by the consumer thread; libbpf's sample callback gets a pointer to it.
struct Consumer {
    shared: Arc<Shared>,
    tsfn: BatchFn,
    batch: Vec<u8>,
    batch_records: u64,
    batch_bytes: u64,
    max_batch: usize,
}

impl Consumer {
    fn push(&mut self, rec: &[u8]) {
        self.batch
            .extend_from_slice(&(rec.len() as u32).to_le_bytes());
        self.batch.extend_from_slice(rec);
        let padded = self.batch.len().div_ceil(8) * 8;
        self.batch.resize(padded, 0);
        self.batch_records += 1;
        self.batch_bytes += rec.len() as u64;
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.max_batch + 64));
        let s = &self.shared;
        s.batches.fetch_add(1, Ordering::Relaxed);
        s.records
            .fetch_add(std::mem::take(&mut self.batch_records), Ordering::Relaxed);
        s.bytes
            .fetch_add(std::mem::take(&mut self.batch_bytes), Ordering::Relaxed);
        // Count the slot before queueing: the completion may run before call returns.
        *s.pending.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let slot = PendingSlot(s.clone());
        let status = self.tsfn.call_with_return_value(
            batch,
            ThreadsafeFunctionCallMode::NonBlocking,
            move |_: JsUnknown| {
                drop(slot);
                Ok(())
            },
        );
        if status != napi::Status::Ok {
            // Node is tearing the function down; nothing more can be delivered.
            s.request_stop();
        }
    }
}

unsafe extern "C" fn on_sample(ctx: *mut c_void, data: *mut c_void, size: u64) -> c_int {
    // SAFETY: ctx is the Consumer the thread created the ring_buffer with; only this thread
    // touches it, and never while libbpf is inside this callback for another record.
    let c = unsafe { &mut *ctx.cast::<Consumer>() };
    // SAFETY: libbpf passes a pointer to `size` readable bytes of the record in the mmap'd ring.
    let rec = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size as usize) };
    c.push(rec);
    if c.batch.len() >= c.max_batch {
        c.flush();
        // Waiting here stops consumption mid-drain: the kernel ring fills and BPF counts drops.
        if !c.shared.wait_for_slot() {
            return -libc::ECANCELED; // record already copied, so libbpf may mark it consumed
        }
    }
    0
}

struct SendPtr<T>(*mut T);
// SAFETY: the pointee is handed from the creating thread to the consumer thread and used only there.
unsafe impl<T> Send for SendPtr<T> {}

fn run(rb: SendPtr<sys::ring_buffer>, consumer: SendPtr<Consumer>, interval_ms: i32) {
    let (rb, cp) = (rb.0, consumer.0);
    // SAFETY: cp came from Box::into_raw and stays valid until the Box::from_raw below.
    let shared = unsafe { &*cp }.shared.clone();
    while shared.wait_for_slot() {
        // poll only handles rings epoll reports, and BPF submits with NO_WAKEUP: consume after.
        // SAFETY: rb is a live ring_buffer owned by this thread.
        let r = unsafe { sys::ring_buffer__poll(rb, interval_ms) };
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        // SAFETY: as above.
        let c = unsafe { sys::ring_buffer__consume(rb) };
        // SAFETY: no libbpf call is running, so this thread holds the only access to *cp.
        unsafe { &mut *cp }.flush();
        if (r < 0 && r != -libc::EINTR && r != -libc::ECANCELED) || (c < 0 && c != -libc::ECANCELED)
        {
            // A persistent epoll error would otherwise spin; pace the retries.
            std::thread::sleep(std::time::Duration::from_millis(interval_ms as u64));
        }
    }
    // A stop must not lose what the kernel already queued: drain the ring to the end.
    // Backpressure no longer applies (wait_for_slot returns at once), the ring bounds it.
    loop {
        // SAFETY: as above.
        let c = unsafe { sys::ring_buffer__consume(rb) };
        // SAFETY: no libbpf call is running, so this thread holds the only access to *cp.
        unsafe { &mut *cp }.flush();
        if c != -libc::ECANCELED {
            break;
        }
    }
    // SAFETY: rb is freed once, after its last use.
    unsafe { sys::ring_buffer__free(rb) };
    // SAFETY: reclaims the Box leaked in open_ring_buffer; dropping it releases the tsfn.
    drop(unsafe { Box::from_raw(cp) });
}

pub struct ReaderCtl {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl ReaderCtl {
    /// Stops draining and joins the thread. Batches already queued still reach onBatch.
    pub fn stop(&mut self) {
        self.shared.request_stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ReaderCtl {
    fn drop(&mut self) {
        self.stop();
    }
}

#[napi]
pub struct RingBufferReader {
    ctl: Rc<RefCell<ReaderCtl>>,
}

#[napi]
impl RingBufferReader {
    /// Idempotent.
    #[napi]
    pub fn stop(&self) {
        self.ctl.borrow_mut().stop();
    }

    #[napi]
    pub fn stats(&self) -> RingBufferStats {
        let s = &self.ctl.borrow().shared;
        RingBufferStats {
            batches: s.batches.load(Ordering::Relaxed) as i64,
            records: s.records.load(Ordering::Relaxed) as i64,
            bytes: s.bytes.load(Ordering::Relaxed) as i64,
            backpressure_waits: s.waits.load(Ordering::Relaxed) as i64,
        }
    }
}

#[napi]
impl BpfObject {
    #[napi(ts_args_type = "map: string, opts: RingBufferOptions, onBatch: (batch: Buffer) => void")]
    pub fn open_ring_buffer(
        &mut self,
        map: String,
        opts: RingBufferOptions,
        on_batch: JsFunction,
    ) -> Result<RingBufferReader> {
        let ctx = format!("opening ring buffer {map}");
        self.require(State::Loaded, errors::RINGBUF, &ctx)?;
        if opts.poll_interval_ms == 0 || opts.max_batch_bytes < 8 || opts.max_pending_batches == 0 {
            return Err(err(
                errors::RINGBUF,
                format!(
                    "{ctx}: pollIntervalMs and maxPendingBatches must be >= 1, maxBatchBytes >= 8"
                ),
            ));
        }
        let m = self.map(&map, errors::RINGBUF)?;
        // SAFETY: m belongs to the loaded object.
        let (t, fd) = unsafe { (sys::bpf_map__type(m), sys::bpf_map__fd(m)) };
        if t != sys::BPF_MAP_TYPE_RINGBUF {
            return Err(err(errors::RINGBUF, format!("{ctx}: not a ringbuf map")));
        }
        let tsfn: BatchFn = on_batch
            .create_threadsafe_function(0, |c: ThreadSafeCallContext<Vec<u8>>| {
                // External buffer over the Vec: JS gets the batch without a copy.
                Ok(vec![c.env.create_buffer_with_data(c.value)?.into_raw()])
            })
            .map_err(from_napi)?;
        let max_batch = opts.max_batch_bytes as usize;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            pending: Mutex::new(0),
            cv: Condvar::new(),
            max_pending: opts.max_pending_batches as usize,
            batches: AtomicU64::new(0),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            waits: AtomicU64::new(0),
        });
        let consumer = Box::into_raw(Box::new(Consumer {
            shared: shared.clone(),
            tsfn,
            batch: Vec::with_capacity(max_batch + 64),
            batch_records: 0,
            batch_bytes: 0,
            max_batch,
        }));
        // SAFETY: fd is the loaded ringbuf map; consumer stays alive until the thread frees rb.
        let rb = unsafe {
            sys::ring_buffer__new(fd, Some(on_sample), consumer.cast(), std::ptr::null())
        };
        if rb.is_null() {
            let e = os_err(errors::RINGBUF, &ctx);
            // SAFETY: the consumer was never shared; reclaim it.
            drop(unsafe { Box::from_raw(consumer) });
            return Err(e);
        }
        let (rbp, cp) = (SendPtr(rb), SendPtr(consumer));
        let interval = opts.poll_interval_ms.min(i32::MAX as u32) as i32;
        let spawned = std::thread::Builder::new()
            .name("lf-ringbuf".into())
            .spawn(move || run(rbp, cp, interval));
        let thread = match spawned {
            Ok(t) => t,
            Err(e) => {
                // The closure (and the pointers in it) was dropped without running.
                return Err(err(
                    errors::RINGBUF,
                    format!("{ctx}: spawning consumer thread: {e}"),
                ));
            }
        };
        let ctl = Rc::new(RefCell::new(ReaderCtl {
            shared,
            thread: Some(thread),
        }));
        self.readers.retain(|r| r.borrow().thread.is_some());
        self.readers.push(ctl.clone());
        Ok(RingBufferReader { ctl })
    }
}
