//! The KPI engine: pure functions over conversation facts and message aggregates (KPI.md):
//! threading, windows, and the metrics. No I/O and no clock: `now` is always a parameter.

pub mod report;
pub mod threading;
pub mod window;
