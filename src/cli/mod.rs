//! Command-line parsing (minimal wiring for the KPI commands; the full CLI is assembled by the
//! app).

pub mod kpi;
