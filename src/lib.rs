//! carepulse: a chat-ops bot for social customer care teams.
//!
//! Data flows one way: `sources` → ingest (`classify`, dedupe, thread) → `store` → `kpi` →
//! `digest` / `commands` → `chat`, with `alerts` reading the store and posting through chat, and
//! `schedule` driving polls, digests and alert checks. `app` wires it all; `cli` parses the
//! command line. The pure core (`model`, `classify`, `kpi`, `alerts`, `digest`, `commands`) does
//! no I/O and reads no clock.

pub mod chat;
pub mod cli;
pub mod config;
pub mod digest;
pub mod kpi;
pub mod model;
pub mod store;
