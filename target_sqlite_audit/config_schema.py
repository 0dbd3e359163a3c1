"""The target's settings (JSON Schema), apart from the target so that it stays short."""

from __future__ import annotations

from singer_sdk import typing as th

from target_sqlite_audit.policy import DEFAULT_IGNORE_COLUMNS, FAR_FUTURE

__all__ = ["CONFIG_SCHEMA", "DEFAULT_BATCH_SIZE", "DEFAULT_DATABASE"]

DEFAULT_DATABASE = "output/audit.sqlite"
DEFAULT_BATCH_SIZE = 5000

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "database",
        th.StringType,
        default=DEFAULT_DATABASE,
        title="Database",
        description=(
            "Path of the SQLite file holding the audit trail; it and its folder are "
            f"created if missing. Default: `{DEFAULT_DATABASE}` (relative to the "
            "working directory)."
        ),
    ),
    th.Property(
        "hard_delete",
        th.BooleanType,
        default=False,
        title="Hard Delete",
        description=(
            "Remove deleted records from the current table instead of setting "
            "`_deleted_at`. The history keeps the `delete` version either way. "
            "Default: false."
        ),
    ),
    th.Property(
        "redact_pii",
        th.BooleanType,
        default=True,
        title="Redact PII",
        description=(
            "Replace e-mail addresses and phone numbers with placeholders in the "
            "end-of-run summary, the `report` command and logged error messages. "
            "Stored data is never altered. Default: true."
        ),
    ),
    th.Property(
        "ignore_columns",
        th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
        default=DEFAULT_IGNORE_COLUMNS,
        title="Ignore Columns",
        description=(
            "Per stream name (`*`: every stream), properties whose changes alone make no "
            "new version: the current row takes their new values in place and the "
            'history is untouched. Default: `{"*": ["Last_Activity_Time"]}`; `{}` '
            "versions every change."
        ),
    ),
    th.Property(
        "changed_fields_include_bookkeeping",
        th.BooleanType,
        default=False,
        title="Changed Fields Include Bookkeeping",
        description=(
            "List `Modified_Time`, `Modified_By` and the replication key in "
            "`changed_fields` (and the `<table>_changes` view) too. Default: false."
        ),
    ),
    th.Property(
        "far_future_valid_to",
        th.BooleanType,
        default=False,
        title="Far-future valid_to",
        description=(
            f"Give the open version of each key `valid_to` = `{FAR_FUTURE}` instead of "
            "NULL (for BETWEEN-style point-in-time queries); switching it rewrites the "
            "open versions once. Default: false."
        ),
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType,
        default=DEFAULT_BATCH_SIZE,
        title="Batch Size Rows",
        description=(
            "Records per batch and transaction (per stream). Larger batches are "
            f"faster and use more memory. Default: {DEFAULT_BATCH_SIZE}."
        ),
    ),
).to_dict()
