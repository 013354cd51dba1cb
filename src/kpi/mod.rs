//! The KPI engine: pure functions over conversation facts and message aggregates (KPI.md):
//! threading, windows, business hours, every metric, comparisons, and the full report. No I/O
//! and no clock: `now` is always a parameter.

pub mod badge;
pub mod business_hours;
pub mod deltas;
pub mod docs;
pub mod full;
pub mod highlights;
pub mod inputs;
pub mod report;
pub mod resolution;
pub mod response;
pub mod sentiment;
pub mod threading;
pub mod volume;
pub mod window;

pub use docs::explain;
pub use full::{full_report, FullReport};
pub use inputs::{KpiInputs, KpiRules, WindowInputs};

/// The result of a scoped thread (its panic, if it panicked, goes on in this thread).
pub(crate) fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}
