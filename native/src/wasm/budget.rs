//! The per-call output budget: what lifting one decode() result may cost the host.
//!
//! A guest's output is a graph of (pointer, length) references into its memory, so a
//! few KiB of guest data can name gigabytes: one string referenced a million times,
//! one list of fields shared by every log-event, control bytes that JSON escaping
//! turns into six bytes each. The lifting code (lift.rs) charges this thread's budget
//! as it reads, before it copies or renders anything, and stops the moment a charge
//! does not fit, or once the call's deadline has passed:
//!
//! - bytes: every string reference, each time it is read (aliases too); the JSON
//!   rendered for log-event fields, escaping included;
//! - items: metric updates, label values, log-events, log fields, annotations and
//!   stream-progress entries.
//!
//! A lifting stopped here fails the whole call with a `HostFault` (never a guest trap
//! or timeout): `oversize` over budget, `timeout` past the deadline. Both poison the
//! instance, because the guest's post-return never ran.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::instance::FaultKind;

/// The limits of one call.
#[derive(Clone, Copy, Debug)]
pub struct OutputLimits {
    pub bytes: u64,
    pub items: u64,
}

/// What lifting one call's output used (bytes, items), for tests and messages.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub bytes: u64,
    pub items: u64,
}

struct State {
    limits: OutputLimits,
    used: Usage,
    deadline: Instant,
    /// Work left before the next deadline check (Instant::now costs ~20 ns): each
    /// charge costs 1 plus 1 per 16 KiB, so a check comes every 64 small charges and
    /// after every 1 MiB read or rendered.
    until_check: i64,
}

const CHECK_EVERY: i64 = 64;

thread_local! {
    static STATE: Cell<Option<State>> = const { Cell::new(None) };
}

/// A failure the host found while lifting the output; `kind` is what is reported.
#[derive(Debug)]
pub struct HostFault {
    pub kind: FaultKind,
    pub msg: String,
}

impl std::fmt::Display for HostFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for HostFault {}

fn fault(kind: FaultKind, msg: String) -> wasmtime::Error {
    wasmtime::Error::new(HostFault { kind, msg })
}

/// Arms this thread's budget for one call that started at `start`.
pub fn begin(limits: OutputLimits, start: Instant, deadline: Duration) {
    STATE.with(|s| {
        s.set(Some(State {
            limits,
            used: Usage::default(),
            deadline: start + deadline,
            until_check: CHECK_EVERY,
        }))
    });
}

/// Disarms it; returns what the call used.
pub fn end() -> Usage {
    STATE.with(|s| s.take().map(|st| st.used).unwrap_or_default())
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    STATE.with(|s| {
        let mut st = s.take()?;
        let r = f(&mut st);
        s.set(Some(st));
        Some(r)
    })
}

fn tick(st: &mut State, n: usize) -> wasmtime::Result<()> {
    st.until_check -= 1 + (n >> 14) as i64;
    if st.until_check <= 0 {
        st.until_check = CHECK_EVERY;
        past_deadline(st)?;
    }
    Ok(())
}

fn past_deadline(st: &State) -> wasmtime::Result<()> {
    if Instant::now() > st.deadline {
        return Err(fault(
            FaultKind::Timeout,
            format!(
                "the call's deadline passed while the host was lifting its output ({} bytes, {} items read so far)",
                st.used.bytes, st.used.items
            ),
        ));
    }
    Ok(())
}

/// Charges `n` bytes (a string reference, rendered JSON). No budget armed: free.
#[inline]
pub fn bytes(n: usize, what: &str) -> wasmtime::Result<()> {
    with(|st| {
        let used = st.used.bytes.saturating_add(n as u64);
        if used > st.limits.bytes {
            return Err(fault(
                FaultKind::Oversize,
                format!(
                    "output over budget: {what} of {n} bytes after {} bytes (outputBytes {})",
                    st.used.bytes, st.limits.bytes
                ),
            ));
        }
        st.used.bytes = used;
        tick(st, n)
    })
    .unwrap_or(Ok(()))
}

/// Charges `n` items (updates, labels, logs, fields, annotations, streams).
#[inline]
pub fn items(n: usize, what: &str) -> wasmtime::Result<()> {
    with(|st| {
        let used = st.used.items.saturating_add(n as u64);
        if used > st.limits.items {
            return Err(fault(
                FaultKind::Oversize,
                format!(
                    "output over budget: {n} {what} after {} items (outputItems {})",
                    st.used.items, st.limits.items
                ),
            ));
        }
        st.used.items = used;
        tick(st, 0)
    })
    .unwrap_or(Ok(()))
}
