//! The SQLite store: the pool (WAL, busy timeout), migrations applied at start-up, and every
//! SQL statement carepulse runs. Returns domain types; nothing outside this module writes SQL.

mod alerts;
mod blocks;
mod chat;
mod handle;
mod ingest;
pub mod outbox;
mod relabel;
mod reports;
mod rollups;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

pub use crate::model::{MessageAggregate, ReportData, ReportQuery};
pub use alerts::SeriesQuery;
pub use ingest::{ClassifiedMessage, Import, IngestOutcome, IngestRules};
pub use outbox::{OutboxCounts, OutboxRow};
pub use relabel::{Relabel, StoredText};

/// Why a store operation failed, worded for the person running carepulse.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}. Check that the folder exists and is writable, or pass --db PATH")]
    Open { path: String, source: sqlx::Error },
    #[error("database {path} is locked by another process (waited {waited_s} s). Stop the other carepulse process or use another --db")]
    Locked { path: String, waited_s: u64 },
    #[error("cannot update the database schema of {path}: {source}")]
    Migrate {
        path: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Write(#[from] rusqlite::Error),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error("a report read stopped before it finished: {0}")]
    Task(String),
}

/// How long a writer waits for another one before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections of the pool: SQLite has one writer at a time and carepulse runs no query
/// concurrently within a task, so two serve the bot's tasks; each costs a thread, a page cache
/// and a statement cache.
pub const MAX_CONNECTIONS: u32 = 2;

/// Prepared statements kept per connection.
pub const STATEMENT_CACHE: usize = 32;

/// Largest part of the file a report command maps.
const REPORT_MMAP_BYTES: i64 = 1 << 30;

/// Page cache of every connection (KiB).
const CACHE_KIB: i64 = 32_000;

/// The SQLite store.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    path: String,
}

fn is_locked(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let m = d.message();
            m.contains("database is locked")
                || m.contains("database table is locked")
                || d.code().as_deref() == Some("5")
        }
        _ => false,
    }
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, 0).await
    }

    /// `open` for a short-lived command that reads reports (`kpi`, `export`): the connections
    /// map the file instead of copying each page they read into their cache. (The bot keeps
    /// `open`: a mapping would count every page it ever read as its memory.)
    pub async fn open_for_reports(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, REPORT_MMAP_BYTES).await
    }

    async fn open_with(path: &Path, mmap_bytes: i64) -> Result<Store, StoreError> {
        let display = path.display().to_string();
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|source| StoreError::Open {
                path: display.clone(),
                source,
            })?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma("cache_size", format!("-{CACHE_KIB}"))
            .pragma("temp_store", "memory")
            .pragma("mmap_size", mmap_bytes.to_string())
            // Each connection keeps its prepared statements (a batch insert of another size is
            // another statement, some 100 KB each): bounded, so an idle bot stays small.
            .statement_cache_capacity(STATEMENT_CACHE);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(BUSY_TIMEOUT + Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|source| {
                if is_locked(&source) {
                    StoreError::Locked {
                        path: display.clone(),
                        waited_s: BUSY_TIMEOUT.as_secs(),
                    }
                } else {
                    StoreError::Open {
                        path: display.clone(),
                        source,
                    }
                }
            })?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| {
                if let sqlx::migrate::MigrateError::Execute(e) = &source {
                    if is_locked(e) {
                        return StoreError::Locked {
                            path: display.clone(),
                            waited_s: BUSY_TIMEOUT.as_secs(),
                        };
                    }
                }
                StoreError::Migrate {
                    path: display.clone(),
                    source,
                }
            })?;
        Ok(Store {
            pool,
            path: display,
        })
    }

    /// The database file, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn map_err(&self, e: sqlx::Error) -> StoreError {
        if is_locked(&e) {
            StoreError::Locked {
                path: self.path.clone(),
                waited_s: BUSY_TIMEOUT.as_secs(),
            }
        } else {
            StoreError::Sql(e)
        }
    }

    /// `map_err` for a write run on the connection's handle (`handle::on_handle`).
    pub(crate) fn map_write_err(&self, e: handle::WriteError) -> StoreError {
        if e.is_locked() {
            return StoreError::Locked {
                path: self.path.clone(),
                waited_s: BUSY_TIMEOUT.as_secs(),
            };
        }
        match e {
            handle::WriteError::Sqlx(e) => StoreError::Sql(e),
            handle::WriteError::Sqlite(e) => StoreError::Write(e),
        }
    }

    /// Closes the pool, flushing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Where a source left off.
    pub async fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT cursor FROM source_cursors WHERE source = ?")
            .bind(source)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(row.and_then(|r| r.get::<Option<String>, _>(0)))
    }

    /// Number of stored messages and conversations.
    pub async fn counts(&self) -> Result<(i64, i64), StoreError> {
        let m: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        let c: i64 = sqlx::query_scalar("SELECT count(*) FROM conversations")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok((m, c))
    }

    /// Newest message instant, if any.
    pub async fn latest_message_at(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT max(created_at) FROM messages")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))
    }

    /// Claims the (job, slot) pair: true if this caller is the first, false if it already ran
    /// or is running elsewhere. This is what makes scheduled posts exactly-once.
    pub async fn claim_job(&self, job: &str, slot: i64, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO job_runs (job, slot, state, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (job, slot) DO NOTHING",
        )
        .bind(job)
        .bind(slot)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the outcome of a claimed job.
    pub async fn finish_job(
        &self,
        job: &str,
        slot: i64,
        state: &str,
        error: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE job_runs SET state = ?, last_error = ?, updated_at = ?, attempts = attempts + 1 WHERE job = ? AND slot = ?")
            .bind(state)
            .bind(error)
            .bind(now)
            .bind(job)
            .bind(slot)
            .execute(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(())
    }

    /// The latest slot of a job that was claimed, if any.
    pub async fn last_job_slot(&self, job: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT max(slot) FROM job_runs WHERE job = ?")
            .bind(job)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))
    }

    /// Reads a piece of persisted state.
    pub async fn get_state(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM kv_state WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.map_err(e))
    }

    /// Writes a piece of persisted state.
    pub async fn put_state(&self, key: &str, value: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO kv_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at")
            .bind(key)
            .bind(value)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(())
    }
}

/// Products and topics as stored: ",a,b,".
pub(crate) fn join_names(names: &[String]) -> String {
    let mut s = String::from(",");
    for n in names {
        s.push_str(n);
        s.push(',');
    }
    s
}

pub(crate) fn split_names(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}
