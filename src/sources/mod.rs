//! Where messages come from: file importers (twcs CSV, JSON lines) and the demo simulator.

pub mod demo;
pub mod files;
