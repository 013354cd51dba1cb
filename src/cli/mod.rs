//! Command-line parsing. (Minimal wiring for the classify branch; the full CLI replaces it.)

pub mod classify;
