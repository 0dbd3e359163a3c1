"""Read-only access to an audit database: the live (or as-of) rows of a stream by property.

Column names in the audit file are derived from property names (``Lead_Source`` ->
``lead_source``) and recorded in ``_audit_columns``; everything here asks by property, so
renamed or colliding columns never matter.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import typing as t
from dataclasses import dataclass
from pathlib import Path

from target_sqlite_audit.naming import quote_ident

_UTC = dt.timezone.utc


class InsightsError(Exception):
    """A problem the user can fix, in one sentence."""


def audit_instant(moment: dt.datetime) -> str:
    """The target's bookkeeping text of an instant (fixed-width UTC, milliseconds)."""
    text = moment.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-3] + "Z"


def parse_time(value: t.Any) -> dt.datetime | None:
    """A Zoho or bookkeeping datetime text as an aware datetime (None when not one)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_UTC)


@dataclass(frozen=True)
class Relation:
    """A stream's rows as a temporary view, and its property -> column map."""

    name: str
    columns: dict[str, str]

    def col(self, prop: str) -> str | None:
        """The quoted column of a property, or None when the stream lacks it."""
        name = self.columns.get(prop)
        return None if name is None else quote_ident(name)


class AuditSource:
    """An audit database opened read-only; ``as_of`` answers from the versions valid then."""

    def __init__(self, database: str | Path, as_of: dt.datetime | None = None) -> None:
        """Open the file.

        Raises:
            InsightsError: The file is missing or not an audit database.
        """
        path = Path(database)
        if not path.is_file():
            msg = f"No audit database at {path}; run a sync first (make demo writes one)."
            raise InsightsError(msg)
        self.path = path
        self.as_of = as_of
        try:
            self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            found = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = '_audit_streams'"
            ).fetchone()
        except sqlite3.Error as exc:
            msg = f"Cannot read {path}: {exc}."
            raise InsightsError(msg) from exc
        if not found:
            msg = f"{path} is not a target-sqlite-audit database (it has no _audit_streams)."
            raise InsightsError(msg)
        self.conn.row_factory = sqlite3.Row
        self._relations: dict[str, Relation | None] = {}

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def rows(self, sql: str, params: t.Sequence[t.Any] = ()) -> list[sqlite3.Row]:
        """Run a query."""
        return self.conn.execute(sql, params).fetchall()

    def relation(self, stream: str) -> Relation | None:
        """The stream's live rows (deleted ones left out), or None when it was never synced."""
        if stream in self._relations:
            return self._relations[stream]
        found = self.conn.execute(
            "SELECT stream_id, table_name, history_table FROM _audit_streams WHERE stream = ?",
            (stream,),
        ).fetchone()
        relation = None
        if found is not None:
            stream_id, table, history = found
            columns = {
                row[0]: row[1]
                for row in self.conn.execute(
                    "SELECT property, column_name FROM _audit_columns WHERE stream_id = ?",
                    (stream_id,),
                )
            }
            view = quote_ident(f"insights_{stream_id}")
            if self.as_of is None:
                body = f'SELECT * FROM {quote_ident(table)} WHERE "_deleted_at" IS NULL'
            else:
                at = audit_instant(self.as_of).replace("'", "")
                body = (
                    f"SELECT * FROM {quote_ident(history)} WHERE valid_from <= '{at}' "
                    f"AND (valid_to IS NULL OR valid_to > '{at}') AND change_type <> 'delete'"
                )
            self.conn.execute(f"CREATE TEMP VIEW IF NOT EXISTS {view} AS {body}")
            relation = Relation(f"temp.{view}", columns)
        self._relations[stream] = relation
        return relation

    def history(self, stream: str) -> str | None:
        """The quoted history table of a stream (versions up to ``as_of`` when set)."""
        found = self.conn.execute(
            "SELECT history_table FROM _audit_streams WHERE stream = ?", (stream,)
        ).fetchone()
        return None if found is None else quote_ident(found[0])

    def org_time_zone(self) -> str | None:
        """The org's time zone from an ``org`` stream, when one was synced."""
        org = self.relation("org")
        column = org.col("time_zone") if org else None
        if org is None or column is None:
            return None
        found = self.conn.execute(f"SELECT {column} FROM {org.name} LIMIT 1").fetchone()
        return str(found[0]) if found and found[0] else None
