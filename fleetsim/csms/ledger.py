"""The CSMS ledger: what every station did, in SQLite, written in batches.

Writers call the ``record_*``/``put_*`` methods, which only buffer in memory
(no I/O on the message path); :meth:`Ledger.flush` commits the buffer in one
SQLite transaction with ``executemany``. The server flushes every
``flush_interval_s`` and on shutdown, so a killed CSMS loses at most that much.
WAL journal with ``synchronous=NORMAL``: commits are cheap, the file is never
corrupt, and readers (``Ledger.open_readonly``) do not block the writer.

Reads return :mod:`fleetsim.csms.records` rows. On a writable ledger they
flush first, so they see everything recorded so far.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fleetsim.csms.config import MEMORY_DB
from fleetsim.csms.records import (
    MessageCount,
    MeterSample,
    MeterValueRow,
    SeqNoAnomaly,
    StationRow,
    TransactionRow,
)
from fleetsim.exceptions import FleetsimError

__all__ = ["SCHEMA", "Ledger"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stations(
    station_id TEXT PRIMARY KEY, ocpp_version TEXT NOT NULL, boots INTEGER NOT NULL,
    first_boot_at TEXT NOT NULL, last_boot_at TEXT NOT NULL, last_boot_status TEXT NOT NULL,
    vendor TEXT, model TEXT);
CREATE TABLE IF NOT EXISTS transactions(
    ocpp_version TEXT NOT NULL, station_id TEXT NOT NULL, transaction_id TEXT NOT NULL,
    evse_id INTEGER, connector_id INTEGER, id_tag TEXT, id_tag_status TEXT,
    meter_start_wh REAL, meter_stop_wh REAL, started_at TEXT, stopped_at TEXT,
    stop_reason TEXT, events INTEGER NOT NULL, last_seq_no INTEGER,
    missing_seq_nos TEXT NOT NULL, offline_events INTEGER NOT NULL,
    PRIMARY KEY(station_id, transaction_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meter_values(
    station_id TEXT NOT NULL, transaction_id TEXT, timestamp TEXT NOT NULL,
    measurand TEXT NOT NULL, phase TEXT, value REAL NOT NULL, unit TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS meter_values_by_tx ON meter_values(station_id, transaction_id);
CREATE TABLE IF NOT EXISTS messages(
    station_id TEXT NOT NULL, action TEXT NOT NULL, count INTEGER NOT NULL,
    errors INTEGER NOT NULL, PRIMARY KEY(station_id, action)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seq_no_anomalies(
    station_id TEXT NOT NULL, transaction_id TEXT NOT NULL, kind TEXT NOT NULL,
    seq_no INTEGER NOT NULL, expected_seq_no INTEGER NOT NULL, received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commands(
    station_id TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL,
    count INTEGER NOT NULL, PRIMARY KEY(station_id, action, outcome)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS station_events(
    station_id TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL, at TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES('schema_version', '1');
"""

_TX_COLUMNS = (
    "ocpp_version, station_id, transaction_id, evse_id, connector_id, id_tag, id_tag_status, "
    "meter_start_wh, meter_stop_wh, started_at, stopped_at, stop_reason, events, "
    "last_seq_no, missing_seq_nos, offline_events"
)
_UPSERT_STATION = (
    "INSERT INTO stations VALUES(?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT(station_id) DO UPDATE SET "
    "ocpp_version=excluded.ocpp_version, boots=boots+1, last_boot_at=excluded.last_boot_at, "
    "last_boot_status=excluded.last_boot_status, vendor=excluded.vendor, model=excluded.model"
)
_UPSERT_TX = f"INSERT OR REPLACE INTO transactions({_TX_COLUMNS}) VALUES({', '.join('?' * 16)})"
_INSERT_SAMPLE = "INSERT INTO meter_values VALUES(?, ?, ?, ?, ?, ?, ?)"
_UPSERT_MESSAGES = (
    "INSERT INTO messages VALUES(?, ?, ?, ?) ON CONFLICT(station_id, action) DO UPDATE SET "
    "count=count+excluded.count, errors=errors+excluded.errors"
)
_INSERT_ANOMALY = "INSERT INTO seq_no_anomalies VALUES(?, ?, ?, ?, ?, ?)"
_UPSERT_COMMANDS = (
    "INSERT INTO commands VALUES(?, ?, ?, ?) ON CONFLICT(station_id, action, outcome) "
    "DO UPDATE SET count=count+excluded.count"
)


class Ledger:
    """A ledger file (or ``:memory:``) opened for writing or read-only."""

    def __init__(self, connection: sqlite3.Connection, *, path: str, writable: bool) -> None:
        """Use :meth:`open` or :meth:`open_readonly` rather than this."""
        self.path = path
        self.writable = writable
        self._db = connection
        self._boots: list[tuple[Any, ...]] = []
        self._transactions: dict[tuple[str, str], TransactionRow] = {}
        self._samples: list[tuple[Any, ...]] = []
        self._messages: dict[tuple[str, str], list[int]] = {}
        self._anomalies: list[tuple[Any, ...]] = []
        self._commands: dict[tuple[str, str, str], int] = {}
        self._events: list[tuple[str, str, str, str]] = []

    @classmethod
    def open(cls, path: str | Path) -> Ledger:
        """Open (creating if needed) a ledger for writing; existing rows are kept.

        Raises :class:`FleetsimError` naming the path if it cannot be opened.
        """
        path = str(path)
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 5000")
            if path != MEMORY_DB:
                db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise FleetsimError(f"cannot open ledger {path}: {exc}") from exc
        return cls(db, path=path, writable=True)

    @classmethod
    def open_readonly(cls, path: str | Path) -> Ledger:
        """Open an existing ledger file for reading (a live CSMS may still write it)."""
        path = str(path)
        if path == MEMORY_DB:
            raise FleetsimError("an in-memory ledger cannot be opened read-only")
        if not Path(path).is_file():
            raise FleetsimError(f"cannot open ledger {path}: no such file")
        try:
            uri = "file:" + quote(str(Path(path).resolve())) + "?mode=ro"
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            raise FleetsimError(f"cannot open ledger {path}: {exc}") from exc
        return cls(db, path=path, writable=False)

    # -- buffered writes ---------------------------------------------------

    def record_boot(
        self,
        station_id: str,
        *,
        ocpp_version: str,
        at: str,
        status: str,
        vendor: str | None,
        model: str | None,
    ) -> None:
        """Count one BootNotification and remember the station's identity."""
        self._boots.append((station_id, ocpp_version, at, at, status, vendor, model))

    def put_transaction(self, row: TransactionRow) -> None:
        """Store the latest state of a transaction (replaces the previous one)."""
        self._transactions[(row.station_id, row.transaction_id)] = row

    def add_samples(
        self, station_id: str, transaction_id: str | None, samples: Iterable[MeterSample]
    ) -> None:
        """Append meter samples (already filtered and normalised by the caller)."""
        self._samples.extend(
            (station_id, transaction_id, s.timestamp, s.measurand, s.phase, s.value, s.unit)
            for s in samples
        )

    def count_message(self, station_id: str, action: str, *, error: bool) -> None:
        """Count one CALL received; ``error`` if it was answered with a CALLERROR."""
        counts = self._messages.get((station_id, action))
        if counts is None:
            self._messages[(station_id, action)] = [1, int(error)]
        else:
            counts[0] += 1
            counts[1] += error

    def count_command(self, station_id: str, action: str, outcome: str) -> None:
        """Count one CALL the CSMS sent and how it ended (a status, CALLERROR:x, timeout)."""
        key = (station_id, action, outcome)
        self._commands[key] = self._commands.get(key, 0) + 1

    def record_event(self, station_id: str, kind: str, detail: str, at: str) -> None:
        """Record what a station reported or was given: a security event, a certificate
        issued, a firmware/log status, a monitor trip, … (never a secret)."""
        self._events.append((station_id, kind, detail, at))

    def add_seq_no_anomaly(self, anomaly: SeqNoAnomaly) -> None:
        """Record a duplicate, skipped or late TransactionEvent seqNo."""
        a = anomaly
        self._anomalies.append(
            (a.station_id, a.transaction_id, a.kind, a.seq_no, a.expected_seq_no, a.received_at)
        )

    @property
    def pending(self) -> int:
        """Number of buffered writes not yet committed."""
        return (
            len(self._boots)
            + len(self._transactions)
            + len(self._samples)
            + len(self._messages)
            + len(self._anomalies)
            + len(self._commands)
            + len(self._events)
        )

    def flush(self) -> None:
        """Commit everything buffered in one SQLite transaction.

        On a database error the transaction is rolled back, the buffer kept for
        the next attempt, and the error raised. Raises FleetsimError if there
        is something to write to a read-only or closed ledger.
        """
        if not self.pending:
            return
        if not self.writable:
            raise FleetsimError(f"ledger {self.path} is read-only (or closed)")
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(_UPSERT_STATION, self._boots)
            db.executemany(_UPSERT_TX, map(_tx_params, self._transactions.values()))
            db.executemany(_INSERT_SAMPLE, self._samples)
            db.executemany(
                _UPSERT_MESSAGES, ((*key, c[0], c[1]) for key, c in self._messages.items())
            )
            db.executemany(_INSERT_ANOMALY, self._anomalies)
            db.executemany(_UPSERT_COMMANDS, ((*k, n) for k, n in self._commands.items()))
            db.executemany("INSERT INTO station_events VALUES(?, ?, ?, ?)", self._events)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._boots.clear()
        self._transactions.clear()
        self._samples.clear()
        self._messages.clear()
        self._anomalies.clear()
        self._commands.clear()
        self._events.clear()

    def close(self) -> None:
        """Flush (if writable) and close. Idempotent."""
        try:
            if self.writable:
                self.flush()
        finally:
            self._db.close()
            self.writable = False

    # -- reads ---------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.writable:
            self.flush()
        return self._db.execute(sql, params).fetchall()

    def stations(self) -> list[StationRow]:
        """All stations that booted, by station id."""
        return [StationRow(*r) for r in self._query("SELECT * FROM stations ORDER BY 1")]

    def transactions(self, station_id: str | None = None) -> list[TransactionRow]:
        """All transactions (of one station), by station id then start time."""
        where, params = ("WHERE station_id = ?", (station_id,)) if station_id else ("", ())
        sql = f"SELECT {_TX_COLUMNS} FROM transactions {where} ORDER BY 2, 10, 3"
        return [_tx_row(r) for r in self._query(sql, params)]

    def transaction(self, station_id: str, transaction_id: str) -> TransactionRow | None:
        """One transaction, including one still buffered, or None."""
        row = self._transactions.get((station_id, transaction_id))
        if row is not None:
            return row
        sql = f"SELECT {_TX_COLUMNS} FROM transactions WHERE station_id = ? AND transaction_id = ?"
        found = self._db.execute(sql, (station_id, transaction_id)).fetchone()
        return None if found is None else _tx_row(found)

    def meter_values(
        self, station_id: str | None = None, transaction_id: str | None = None,
        measurand: str | None = None,
    ) -> list[MeterValueRow]:
        """Stored samples, optionally of one station, transaction and/or measurand, in
        arrival order."""
        clauses, params = [], []
        if measurand is not None:
            clauses.append("measurand = ?")
            params.append(measurand)
        if station_id is not None:
            clauses.append("station_id = ?")
            params.append(station_id)
        if transaction_id is not None:
            clauses.append("transaction_id = ?")
            params.append(transaction_id)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._query(f"SELECT * FROM meter_values {where} ORDER BY rowid", tuple(params))
        return [MeterValueRow(*r) for r in rows]

    def message_counts(self) -> list[MessageCount]:
        """Per-station, per-action CALL counts."""
        return [MessageCount(*r) for r in self._query("SELECT * FROM messages ORDER BY 1, 2")]

    def action_totals(self) -> dict[str, int]:
        """CALLs received per action, summed over stations."""
        sql = "SELECT action, SUM(count) FROM messages GROUP BY action ORDER BY action"
        return {action: int(total) for action, total in self._query(sql)}

    def seq_no_anomalies(self) -> list[SeqNoAnomaly]:
        """Every recorded seqNo anomaly, in arrival order."""
        rows = self._query("SELECT * FROM seq_no_anomalies ORDER BY rowid")
        return [SeqNoAnomaly(*r) for r in rows]

    def command_outcomes(self) -> dict[tuple[str, str], int]:
        """(action, outcome) → how many CSMS-initiated CALLs ended so."""
        rows = self._query("SELECT action, outcome, SUM(count) FROM commands "
                           "GROUP BY action, outcome")
        return {(a, o): int(n) for a, o, n in rows}

    def events(self, station_id: str | None = None,
               kind: str | None = None) -> list[tuple[str, str, str, str]]:
        """Recorded station events (station_id, kind, detail, at) in arrival order."""
        rows = self._query("SELECT * FROM station_events WHERE (?1 IS NULL OR station_id = ?1) "
                           "AND (?2 IS NULL OR kind = ?2) ORDER BY rowid", (station_id, kind))
        return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]

    def boot_counts(self) -> dict[str, int]:
        """BootNotifications received per station (committed rows only)."""
        return dict(self._db.execute("SELECT station_id, boots FROM stations").fetchall())

    def reserve(self, key: str, count: int, *, floor: int = 0) -> int:
        """Advance the counter ``key`` by ``count`` at once (committed); return its old value.

        The counter starts at ``floor`` and never falls below it. The caller
        owns the values old+1..old+count, even across a crash: used to hand
        out 1.6 transaction ids in blocks without a commit per id.
        """
        if not self.writable:
            raise FleetsimError(f"ledger {self.path} is read-only (or closed)")
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            found = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            old = max(floor, int(found[0]) if found else 0)
            db.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (key, str(old + count)))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return old

    def max_v16_transaction_id(self) -> int:
        """The largest 1.6 transaction id issued so far (committed), or 0."""
        sql = (
            "SELECT MAX(CAST(transaction_id AS INTEGER)) FROM transactions "
            "WHERE ocpp_version = '1.6'"
        )
        value = self._db.execute(sql).fetchone()[0]
        return int(value or 0)


def _tx_params(row: TransactionRow) -> tuple[Any, ...]:
    return (
        row.ocpp_version,
        row.station_id,
        row.transaction_id,
        row.evse_id,
        row.connector_id,
        row.id_tag,
        row.id_tag_status,
        row.meter_start_wh,
        row.meter_stop_wh,
        row.started_at,
        row.stopped_at,
        row.stop_reason,
        row.events,
        row.last_seq_no,
        ",".join(map(str, row.missing_seq_nos)),
        row.offline_events,
    )


def _tx_row(r: tuple[Any, ...]) -> TransactionRow:
    missing = tuple(int(s) for s in r[14].split(",")) if r[14] else ()
    return TransactionRow(
        ocpp_version=r[0],
        station_id=r[1],
        transaction_id=r[2],
        evse_id=r[3],
        connector_id=r[4],
        id_tag=r[5],
        id_tag_status=r[6],
        meter_start_wh=r[7],
        meter_stop_wh=r[8],
        started_at=r[9],
        stopped_at=r[10],
        stop_reason=r[11],
        events=r[12],
        last_seq_no=r[13],
        missing_seq_nos=missing,
        offline_events=r[15],
    )
