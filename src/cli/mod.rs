//! Command-line parsing.

pub mod alerts;
