//! The spending ledger: a SQLite database with one row per request, shared by every process
//! that uses the same file.
//!
//! A request's row goes `pending` → `succeeded` / `failed` / `interrupted`, or is written
//! `refused` or `deduplicated` at once. What counts against the caps:
//!
//! | status | meaning | counts |
//! |---|---|---|
//! | `pending` | reserved, the call is in flight | the estimate |
//! | `succeeded` | answered with an image | the actual cost when usage was reported, else the estimate |
//! | `failed` | the server answered with an error (not billed) | 0 |
//! | `interrupted` | no answer: a timeout, a lost connection, or a process that died while pending (the server may have billed it) | the estimate |
//! | `refused` | the budget refused it; nothing was sent | 0 |
//! | `deduplicated` | answered from an identical earlier request; nothing was sent | 0 |
//!
//! The reservation (de-dup lookup, cap check and `pending` insert) is one `BEGIN IMMEDIATE`
//! transaction, which takes SQLite's write lock before reading: two processes racing for the
//! last of a cap are serialised, and the second sees the first's reservation. A pending row
//! past its deadline (the request's own time limit, plus a margin) belongs to a process that
//! died; opening the ledger marks it `interrupted`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::{CapKind, Error, Result};
use crate::money::Usd;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    created INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    finished INTEGER,
    deadline INTEGER NOT NULL,
    session TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('pending', 'succeeded', 'failed', 'interrupted', 'refused', 'deduplicated')),
    model TEXT NOT NULL,
    size TEXT NOT NULL,
    quality TEXT,
    fingerprint TEXT NOT NULL,
    estimate_micros INTEGER NOT NULL,
    actual_micros INTEGER,
    detail TEXT,
    result BLOB
);
CREATE INDEX IF NOT EXISTS requests_by_fingerprint ON requests (fingerprint, status, created);
CREATE INDEX IF NOT EXISTS requests_by_time ON requests (created);
";

/// What a row costs against the caps (see the module's table).
const CHARGED: &str = "CASE status
    WHEN 'succeeded' THEN COALESCE(actual_micros, estimate_micros)
    WHEN 'pending' THEN estimate_micros
    WHEN 'interrupted' THEN estimate_micros
    ELSE 0 END";

/// How long a process waits for another's write lock before the ledger reports an error.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Spending caps; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Caps {
    /// Per model instance (one process's session).
    pub session: Option<Usd>,
    /// Per UTC day.
    pub day: Option<Usd>,
    /// Per UTC month.
    pub month: Option<Usd>,
}

impl Caps {
    /// The defaults: $1 a session, $5 a day, $20 a month: a few images, never a surprise.
    pub const DEFAULT: Caps = Caps {
        session: Some(Usd::from_micros(1_000_000)),
        day: Some(Usd::from_micros(5_000_000)),
        month: Some(Usd::from_micros(20_000_000)),
    };

    /// No cap at all (only when the user sets every cap to 0).
    pub const UNLIMITED: Caps = Caps {
        session: None,
        day: None,
        month: None,
    };
}

impl Default for Caps {
    fn default() -> Self {
        Caps::DEFAULT
    }
}

/// A request about to be sent, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewRequest {
    /// The session (one model instance).
    pub session: String,
    /// The API model name.
    pub model: String,
    /// `WxH`.
    pub size: String,
    /// The quality sent, if any.
    pub quality: Option<String>,
    /// A digest of everything that determines the answer (for de-duplication).
    pub fingerprint: String,
    /// The estimated cost.
    pub estimate: Usd,
    /// How long the call may take, at most (the HTTP timeouts); after that, plus a margin, a
    /// pending row is taken to be a crashed process's.
    pub time_limit: Duration,
}

/// What [`Ledger::reserve`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// Go ahead: the `pending` row's id.
    Reserved(i64),
    /// An identical request succeeded within the window: its stored result (encoded image).
    Duplicate(Vec<u8>),
    /// The minimum interval since the last request has not passed: wait this long and retry.
    Wait(Duration),
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// Row id.
    pub id: i64,
    /// Unix seconds.
    pub created: i64,
    /// The session.
    pub session: String,
    /// `pending`, `succeeded`, … (see the module docs).
    pub status: String,
    /// The API model.
    pub model: String,
    /// `WxH`.
    pub size: String,
    /// The estimate.
    pub estimate: Usd,
    /// The actual cost, when the answer reported usage.
    pub actual: Option<Usd>,
    /// Why it failed, was refused or interrupted.
    pub detail: Option<String>,
}

/// Spending over one period (a UTC day `YYYY-MM-DD` or month `YYYY-MM`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Period {
    /// The period.
    pub period: String,
    /// What counts against the caps.
    pub spent: Usd,
    /// Requests sent (succeeded, failed, interrupted, pending).
    pub sent: u64,
    /// Requests refused by the budget.
    pub refused: u64,
    /// Requests answered from the de-dup store.
    pub deduplicated: u64,
}

/// The ledger database.
#[derive(Debug)]
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    reconciled: usize,
}

/// Unix milliseconds now.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Unix seconds now.
fn now() -> i64 {
    now_ms() / 1000
}

impl Ledger {
    /// Opens (creating when needed) the ledger at `path`, and marks the pending rows of
    /// processes that died (past their deadline) `interrupted`; [`reconciled`](Self::reconciled)
    /// says how many.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let fail = |source| Error::Ledger {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(&path).map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        let mut ledger = Ledger {
            conn,
            path,
            reconciled: 0,
        };
        ledger.reconciled = ledger.reconcile()?;
        Ok(ledger)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many stale `pending` rows [`open`](Self::open) marked `interrupted`.
    pub fn reconciled(&self) -> usize {
        self.reconciled
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Ledger {
            path: self.path.clone(),
            source,
        }
    }

    fn reconcile(&mut self) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE requests SET status = 'interrupted', finished = ?1,
                     detail = 'no answer recorded: the process ended while the request was in flight; counted at its estimate'
                 WHERE status = 'pending' AND deadline < ?1",
                params![now()],
            )
            .map_err(|e| self.err(e))
    }

    /// Decides whether `request` may be sent, in one write transaction: an identical request
    /// that succeeded within `dedup_window` gives its stored result (and a `deduplicated`
    /// row); a request within `min_interval` of the last one sent gives
    /// [`Reservation::Wait`]; an estimate that would cross a cap writes a `refused` row and is
    /// [`Error::BudgetExceeded`]; otherwise a `pending` row is written and its id returned.
    pub fn reserve(
        &mut self,
        request: &NewRequest,
        caps: &Caps,
        dedup_window: Duration,
        min_interval: Duration,
    ) -> Result<Reservation> {
        let path = self.path.clone();
        let fail = |source| Error::Ledger {
            path: path.clone(),
            source,
        };
        let now_ms = now_ms();
        let now = now_ms / 1000;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let insert = |tx: &rusqlite::Transaction<'_>, status: &str, detail: Option<&str>| {
            tx.execute(
                "INSERT INTO requests (created, deadline, session, status, model, size, quality,
                     fingerprint, estimate_micros, detail, finished, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
                     CASE WHEN ?4 = 'pending' THEN NULL ELSE ?1 END, ?11)",
                params![
                    now,
                    // The margin covers the work between reserving and sending.
                    now + request.time_limit.as_secs() as i64 + 2,
                    request.session,
                    status,
                    request.model,
                    request.size,
                    request.quality,
                    request.fingerprint,
                    request.estimate.micros() as i64,
                    detail,
                    now_ms,
                ],
            )
            .map(|_| tx.last_insert_rowid())
        };

        // Stored answers are kept only as long as they can be reused: they are the user's
        // images.
        tx.execute(
            "UPDATE requests SET result = NULL WHERE result IS NOT NULL AND created < ?1",
            params![now - dedup_window.as_secs().min(i64::MAX as u64) as i64],
        )
        .map_err(fail)?;
        if !dedup_window.is_zero() {
            let stored: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT result FROM requests
                     WHERE fingerprint = ?1 AND status = 'succeeded' AND result IS NOT NULL
                       AND created >= ?2
                     ORDER BY created DESC LIMIT 1",
                    params![request.fingerprint, now - dedup_window.as_secs() as i64],
                    |row| row.get(0),
                )
                .optional()
                .map_err(fail)?;
            if let Some(result) = stored {
                insert(&tx, "deduplicated", None).map_err(fail)?;
                tx.commit().map_err(fail)?;
                return Ok(Reservation::Duplicate(result));
            }
        }

        if !min_interval.is_zero() {
            let last: Option<i64> = tx
                .query_row(
                    "SELECT MAX(created_ms) FROM requests
                     WHERE status IN ('pending', 'succeeded', 'failed', 'interrupted')",
                    [],
                    |row| row.get(0),
                )
                .map_err(fail)?;
            if let Some(last) = last {
                let ready = last.saturating_add(min_interval.as_millis() as i64);
                if ready > now_ms {
                    return Ok(Reservation::Wait(Duration::from_millis(
                        (ready - now_ms) as u64,
                    )));
                }
            }
        }

        let spent = |scope: &str, value: &dyn rusqlite::ToSql| -> rusqlite::Result<Usd> {
            tx.query_row(
                &format!("SELECT COALESCE(SUM({CHARGED}), 0) FROM requests WHERE {scope}"),
                [value],
                |row| row.get::<_, i64>(0),
            )
            .map(|m| Usd::from_micros(m.max(0) as u64))
        };
        let checks: [(CapKind, Option<Usd>, &str, &dyn rusqlite::ToSql); 3] = [
            (
                CapKind::Session,
                caps.session,
                "session = ?1",
                &request.session,
            ),
            (
                CapKind::Day,
                caps.day,
                "strftime('%Y-%m-%d', created, 'unixepoch') = strftime('%Y-%m-%d', ?1, 'unixepoch')",
                &now,
            ),
            (
                CapKind::Month,
                caps.month,
                "strftime('%Y-%m', created, 'unixepoch') = strftime('%Y-%m', ?1, 'unixepoch')",
                &now,
            ),
        ];
        for (cap, limit, scope, value) in checks {
            let Some(limit) = limit else { continue };
            let spent = spent(scope, value).map_err(fail)?;
            if spent.saturating_add(request.estimate) > limit {
                let refusal = Error::BudgetExceeded {
                    cap,
                    limit,
                    spent,
                    estimate: request.estimate,
                };
                insert(&tx, "refused", Some(&refusal.to_string())).map_err(fail)?;
                tx.commit().map_err(fail)?;
                return Err(refusal);
            }
        }
        let id = insert(&tx, "pending", None).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(Reservation::Reserved(id))
    }

    fn finish(
        &mut self,
        id: i64,
        status: &str,
        actual: Option<Usd>,
        detail: Option<&str>,
        result: Option<&[u8]>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE requests SET status = ?2, finished = ?3, actual_micros = ?4, detail = ?5,
                     result = ?6
                 WHERE id = ?1",
                params![
                    id,
                    status,
                    now(),
                    actual.map(|a| a.micros() as i64),
                    detail,
                    result
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records an answer: its actual cost when known, and the encoded image when it is to be
    /// reused by de-duplication (kept for the de-dup window only).
    pub fn succeed(&mut self, id: i64, actual: Option<Usd>, result: Option<&[u8]>) -> Result<()> {
        self.finish(id, "succeeded", actual, None, result)
    }

    /// Records an error answer from the server (not billed: cost 0).
    pub fn fail(&mut self, id: i64, detail: &str) -> Result<()> {
        self.finish(id, "failed", Some(Usd::ZERO), Some(detail), None)
    }

    /// Records a request that got no answer (the server may have billed it: it keeps
    /// counting at its estimate).
    pub fn interrupt(&mut self, id: i64, detail: &str) -> Result<()> {
        self.finish(id, "interrupted", None, Some(detail), None)
    }

    /// Every row, oldest first.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, created, session, status, model, size, estimate_micros,
                     actual_micros, detail
                 FROM requests ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok(Entry {
                    id: row.get(0)?,
                    created: row.get(1)?,
                    session: row.get(2)?,
                    status: row.get(3)?,
                    model: row.get(4)?,
                    size: row.get(5)?,
                    estimate: Usd::from_micros(row.get::<_, i64>(6)?.max(0) as u64),
                    actual: row
                        .get::<_, Option<i64>>(7)?
                        .map(|m| Usd::from_micros(m.max(0) as u64)),
                    detail: row.get(8)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Spending per UTC day (`by_month = false`) or month, newest first.
    pub fn periods(&self, by_month: bool) -> Result<Vec<Period>> {
        let format = if by_month { "%Y-%m" } else { "%Y-%m-%d" };
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT strftime('{format}', created, 'unixepoch') AS period,
                     COALESCE(SUM({CHARGED}), 0),
                     SUM(status IN ('pending', 'succeeded', 'failed', 'interrupted')),
                     SUM(status = 'refused'),
                     SUM(status = 'deduplicated')
                 FROM requests GROUP BY period ORDER BY period DESC"
            ))
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok(Period {
                    period: row.get(0)?,
                    spent: Usd::from_micros(row.get::<_, i64>(1)?.max(0) as u64),
                    sent: row.get::<_, i64>(2)?.max(0) as u64,
                    refused: row.get::<_, i64>(3)?.max(0) as u64,
                    deduplicated: row.get::<_, i64>(4)?.max(0) as u64,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }
}
