//! Synchronous statements on a pooled connection: ingest runs thousands of small statements
//! per batch, and through sqlx each one (and each row it returns) is a round trip to the
//! connection's worker thread with owned copies of every value. `on_handle` locks the
//! connection away from its worker and runs a closure with a `rusqlite::Connection` over the
//! same SQLite handle (the same library: both crates link libsqlite3-sys), in the caller's
//! transaction.

use sqlx::SqliteConnection;

/// Why a synchronous write failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

impl WriteError {
    /// Whether another writer held the database past the busy timeout.
    pub(crate) fn is_locked(&self) -> bool {
        match self {
            WriteError::Sqlx(e) => super::is_locked(e),
            WriteError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
        }
    }
}

/// Prepared statements a closure keeps for its run (ingest uses about twenty).
const STATEMENTS: usize = 48;

/// Runs `f` with a `rusqlite::Connection` over `conn`'s SQLite handle, within whatever
/// transaction `conn` has open. On a multi-threaded runtime the worker thread hands its other
/// tasks over while `f` runs.
pub(crate) async fn on_handle<T>(
    conn: &mut SqliteConnection,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, WriteError>,
) -> Result<T, WriteError> {
    let mut locked = conn.lock_handle().await?;
    let raw = locked.as_raw_handle();
    // SAFETY: `locked` keeps sqlx's worker thread off this connection until it is dropped, which
    // happens after `db` (declared later, dropped first): meanwhile the handle is valid and only
    // this thread uses it. `from_handle` never closes the handle; dropping `db` finalizes the
    // statements it prepared.
    let db = unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) }?;
    db.set_prepared_statement_cache_capacity(STATEMENTS);
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let out = if multi_thread {
        tokio::task::block_in_place(|| f(&db))
    } else {
        f(&db)
    };
    drop(db);
    drop(locked);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// Statements run through the handle belong to the sqlx transaction around them: a
    /// rollback undoes them, a commit keeps them, and the connection serves sqlx afterwards.
    #[tokio::test]
    async fn writes_join_the_surrounding_transaction() {
        let mut conn = SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("connect");
        sqlx::query("CREATE TABLE t (v INTEGER NOT NULL)")
            .execute(&mut conn)
            .await
            .expect("create");
        for (value, keep) in [(1, false), (2, true)] {
            let mut tx = conn.begin().await.expect("begin");
            on_handle(&mut tx, |db| {
                db.execute("INSERT INTO t (v) VALUES (?1)", [value])?;
                Ok(())
            })
            .await
            .expect("insert");
            if keep {
                tx.commit().await.expect("commit");
            } else {
                tx.rollback().await.expect("rollback");
            }
        }
        let kept: Vec<i64> = sqlx::query_scalar("SELECT v FROM t")
            .fetch_all(&mut conn)
            .await
            .expect("read");
        assert_eq!(kept, vec![2]);
        let err = on_handle(&mut conn, |db| {
            db.execute("INSERT INTO t (v) VALUES (NULL)", [])?;
            Ok(())
        })
        .await
        .expect_err("a constraint error comes back");
        assert!(matches!(err, WriteError::Sqlite(_)), "{err:?}");
        assert!(!err.is_locked());
    }
}
