//! Pure rendering of KPI reports into chat-neutral posts, and the PNG charts that go with them.

pub mod charts;
pub mod post;
