"""The stream registry: a stream's tables, created or checked against its SCHEMA."""

from __future__ import annotations

import sqlite3
import typing as t
from collections.abc import Mapping, Sequence

import orjson

from target_sqlite_audit.columns import (
    DECLARED_TYPES,
    KIND_DESCRIPTIONS,
    Column,
    column_kind,
    compatible,
)
from target_sqlite_audit.connection import (
    _LOG,
    DELETED_MARKER,
    RESERVED_COLUMNS,
    RESERVED_TABLES,
)
from target_sqlite_audit.errors import InputError, SchemaChangeError
from target_sqlite_audit.naming import (
    assign_column_names,
    quote_ident,
    table_name_for,
)
from target_sqlite_audit.synclog import SyncLogStore
from target_sqlite_audit.tables import (
    StreamTable,
)
from target_sqlite_audit.views import has_views, refresh_views


class StreamRegistry(SyncLogStore):
    """Streams and their tables: registered once per SCHEMA, kinds checked."""

    def register_stream(
        self,
        stream: str,
        properties: Mapping[str, t.Any],
        key_properties: Sequence[str],
        *,
        replication_key: str | None = None,
        lenient: bool = False,
        line: int | None = None,
    ) -> StreamTable:
        """Create or extend a stream's tables for a SCHEMA.

        New properties add columns to both tables (``ALTER TABLE ADD COLUMN``);
        properties that vanished keep their columns (NULL from now on).

        Args:
            stream: Stream name.
            properties: The schema's ``properties``.
            key_properties: The stream's key properties (may be empty).
            replication_key: Property for the stale check (first bookmark property).
            lenient: See :class:`StreamTable`.
            line: Input line of the SCHEMA message, for error sentences.

        Returns:
            The stream's :class:`StreamTable`.

        Raises:
            SchemaChangeError: The key properties changed, or a column cannot follow
                a type change.
            InputError: A key property is not in the schema.
        """
        where = f" on line {line}" if line else ""
        props = {prop: schema for prop, schema in properties.items() if prop != DELETED_MARKER}
        for key in key_properties:
            if key not in props:
                msg = (
                    f"The SCHEMA of stream {stream!r}{where} names key property {key!r}, "
                    "which is not among its properties."
                )
                raise InputError(msg)
        now = self._clock()
        with self._transaction(
            f"Creating the tables of stream {stream!r}{where} in {self.path}"
        ) as conn:
            found = conn.execute(
                "SELECT stream_id, table_name, history_table, key_properties "
                "FROM _audit_streams WHERE stream = ?",
                (stream,),
            ).fetchone()
            if found is None:
                stream_id, table, history = self._new_stream(conn, stream, key_properties, now)
                existing: list[Column] = []
            else:
                stream_id, table, history, stored_keys = found
                if list(orjson.loads(stored_keys)) != list(key_properties):
                    msg = (
                        f"Stream {stream!r} changes its key properties from "
                        f"{orjson.loads(stored_keys)} to {list(key_properties)}{where}, "
                        f"but the primary key of table {table!r} cannot change."
                    )
                    raise SchemaChangeError(msg)
                existing = [
                    Column(prop, name, kind, declared, position)
                    for prop, name, kind, declared, position in conn.execute(
                        "SELECT property, column_name, kind, declared_type, position "
                        "FROM _audit_columns WHERE stream_id = ? ORDER BY position",
                        (stream_id,),
                    )
                ]
            self._check_kinds(conn, stream, stream_id, existing, props, where)
            by_prop = {column.prop for column in existing}
            new_props = [prop for prop in props if prop not in by_prop]
            taken = {column.name.lower() for column in existing} | set(RESERVED_COLUMNS)
            names = assign_column_names(new_props, taken)
            added = []
            for position, prop in enumerate(new_props, start=len(existing)):
                kind = column_kind(props[prop])
                added.append(Column(prop, names[prop], kind, DECLARED_TYPES[kind], position))
            conn.executemany(
                "INSERT INTO _audit_columns (stream_id, property, column_name, kind, "
                "declared_type, position, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (stream_id, c.prop, c.name, c.kind, c.declared_type, c.position, now)
                    for c in added
                ],
            )
            columns = existing + added
            # Keyless streams are keyed by their content hash: it cannot leave columns out.
            gone = (
                frozenset(c.prop for c in existing if c.prop not in props)
                if key_properties
                else frozenset()
            )
            stream_table = StreamTable(
                stream_id=stream_id,
                stream=stream,
                table=table,
                history=history,
                key_properties=key_properties,
                columns=columns,
                replication_key=replication_key,
                lenient=lenient,
                gone=gone,
                ignored=self.policy.ignored(stream, [c.prop for c in columns]),
                quiet=self.policy.quiet([c.prop for c in columns], replication_key),
                open_valid_to=self.policy.open_valid_to,
            )
            if gone:
                _LOG.info(
                    "Stream %r: column(s) %s gone from its SCHEMA; their last values are "
                    "kept and their absence changes no record",
                    stream,
                    ", ".join(sorted(gone)),
                )
            if found is None:
                self._create_tables(conn, stream_table)
            else:
                for column in added:
                    definition = f"{quote_ident(column.name)} {column.declared_type}".rstrip()
                    conn.execute(f"ALTER TABLE {quote_ident(table)} ADD COLUMN {definition}")
                    conn.execute(f"ALTER TABLE {quote_ident(history)} ADD COLUMN {definition}")
            if found is None or added or not has_views(conn, stream_table):
                refresh_views(conn, stream_table)
        return stream_table

    def _new_stream(
        self,
        conn: sqlite3.Connection,
        stream: str,
        key_properties: Sequence[str],
        now: str,
    ) -> tuple[int, str, str]:
        taken = {str(name).lower() for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        taken |= RESERVED_TABLES
        for table_name, history_name in conn.execute(
            "SELECT table_name, history_table FROM _audit_streams"
        ):
            taken |= {str(table_name).lower(), str(history_name).lower()}
        base = table_name_for(stream)
        table = base
        suffix = 2
        while table.lower() in taken or f"{table}_history".lower() in taken:
            table = f"{base}_{suffix}"
            suffix += 1
        history = f"{table}_history"
        cursor = conn.execute(
            "INSERT INTO _audit_streams (stream, table_name, history_table, key_properties, "
            "created_at) VALUES (?, ?, ?, ?, ?)",
            (stream, table, history, orjson.dumps(list(key_properties)).decode(), now),
        )
        return int(cursor.lastrowid or 0), table, history

    def _check_kinds(
        self,
        conn: sqlite3.Connection,
        stream: str,
        stream_id: int,
        existing: list[Column],
        props: Mapping[str, t.Any],
        where: str,
    ) -> None:
        for column in existing:
            if column.prop not in props:
                continue
            kind = column_kind(props[column.prop])
            if kind == column.kind:
                continue
            if not compatible(column.declared_type, kind):
                msg = (
                    f"Stream {stream!r} changes property {column.prop!r} from "
                    f"{KIND_DESCRIPTIONS[column.kind]} to {KIND_DESCRIPTIONS[kind]}{where}, "
                    f"but column {column.name!r} ({column.declared_type}) cannot store the "
                    "new values verbatim; drop or rename the table to start it afresh."
                )
                raise SchemaChangeError(msg)
            column.kind = kind
            conn.execute(
                "UPDATE _audit_columns SET kind = ? WHERE stream_id = ? AND property = ?",
                (kind, stream_id, column.prop),
            )

    def _create_tables(self, conn: sqlite3.Connection, table: StreamTable) -> None:
        q = quote_ident
        data = [f"{q(c.name)} {c.declared_type}".rstrip() for c in table.columns]
        pk = ", ".join(table.key_columns)
        conn.execute(
            f"CREATE TABLE {q(table.table)} (\n    "
            + ",\n    ".join(
                [
                    *data,
                    '"_first_seen_at" TEXT NOT NULL',
                    '"_last_changed_at" TEXT NOT NULL',
                    '"_deleted_at" TEXT',
                    '"_content_hash" TEXT NOT NULL',
                    '"_sync_id" INTEGER NOT NULL REFERENCES sync_log (id)',
                    '"_history_id" INTEGER NOT NULL',
                    f"PRIMARY KEY ({pk})",
                ]
            )
            + "\n)"
        )
        conn.execute(
            f"CREATE TABLE {q(table.history)} (\n    "
            + ",\n    ".join(
                [
                    '"history_id" INTEGER PRIMARY KEY',
                    *data,
                    '"content_hash" TEXT NOT NULL',
                    # OR, not IN: an IN list builds an ephemeral index at every row's insert.
                    "\"change_type\" TEXT NOT NULL CHECK (change_type = 'insert' OR "
                    "change_type = 'update' OR change_type = 'delete')",
                    '"captured_at" TEXT NOT NULL',
                    '"sync_id" INTEGER NOT NULL REFERENCES sync_log (id)',
                    '"changed_fields" TEXT',
                    '"is_current" INTEGER NOT NULL DEFAULT 0',
                    '"valid_from" TEXT NOT NULL',
                    '"valid_to" TEXT',
                ]
            )
            + "\n)"
        )
        index = q(f"_audit_idx_{table.stream_id}_history_key")
        conn.execute(
            f"CREATE INDEX {index} ON {q(table.history)} ({', '.join(table._hist_key_columns)})"
        )

    # -- batches ----------------------------------------------------------------------
