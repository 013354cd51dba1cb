//! Command-line parsing: clap argument structs and the `run` functions behind each command.

pub mod sources;
