//! carepulse: a chat-ops bot for social customer care teams.
//!
//! Data flows one way: `sources` → `ingest` (`classify`, dedupe, thread) → `store` → `kpi` →
//! `digest` / `commands` → `chat`, with `alerts` reading the store and posting through chat, and
//! `schedule` driving polls, digests and alert checks. `app` wires it all; `cli` parses the
//! command line. The pure core (`model`, `classify`, `kpi`, `alerts`, `digest`, `commands`) does
//! no I/O and reads no clock.

pub mod alerts;
pub mod app;
pub mod chat;
pub mod classify;
pub mod cli;
pub mod commands;
pub mod config;
pub mod digest;
pub mod ingest;
pub mod kpi;
pub mod model;
pub mod schedule;
pub mod sources;
pub mod store;
