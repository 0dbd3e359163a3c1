"""Singer messages checked before the SDK sees them: one sentence for each malformed part."""

from __future__ import annotations

import typing as t

from target_sqlite_audit.errors import InputError, RecordBeforeSchemaError

__all__ = [
    "SchemaMessage",
    "check_activate_version",
    "check_batch",
    "parse_schema_message",
    "require_known_stream",
]


class SchemaMessage(t.NamedTuple):
    """The parts of a SCHEMA message the target uses."""

    stream: str
    schema: dict
    key_properties: list[str] | None
    #: The first of its ``bookmark_properties``, the stream's replication key.
    replication_key: str | None


def parse_schema_message(message: t.Mapping[str, t.Any], line: int) -> SchemaMessage:
    """The SCHEMA's stream, schema, keys and replication key, or one sentence of what's wrong.

    Args:
        message: The SCHEMA message.
        line: Its input line.

    Returns:
        The parts.

    Raises:
        InputError: The stream name, the properties or the key properties are malformed.
    """
    stream = message.get("stream")
    schema = message.get("schema")
    if not isinstance(stream, str):
        msg = f'The SCHEMA message on line {line} has no "stream" name.'
        raise InputError(msg)
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        msg = f'The SCHEMA of stream {stream!r} on line {line} has no "properties" object.'
        raise InputError(msg)
    keys = message.get("key_properties")
    if keys is not None and (
        not isinstance(keys, list) or not all(isinstance(key, str) for key in keys)
    ):
        msg = (
            f"The SCHEMA of stream {stream!r} on line {line} has key_properties "
            "that are not a list of property names."
        )
        raise InputError(msg)
    bookmarks = message.get("bookmark_properties")
    replication_key = None
    if isinstance(bookmarks, list) and bookmarks and isinstance(bookmarks[0], str):
        replication_key = bookmarks[0]
    elif isinstance(bookmarks, str):
        replication_key = bookmarks
    return SchemaMessage(stream, schema, keys, replication_key)


def require_known_stream(
    message: t.Mapping[str, t.Any], kind: str, line: int, known: t.Container[str]
) -> None:
    """Refuse a message for a stream that has no SCHEMA yet (one sentence)."""
    stream = message.get("stream")
    if not isinstance(stream, str) or stream not in known:
        msg = (
            f"The {kind} message on line {line} is for stream {stream!r}, which has no SCHEMA yet."
        )
        raise RecordBeforeSchemaError(msg)


def check_activate_version(message: t.Mapping[str, t.Any], line: int) -> None:
    """Refuse an ACTIVATE_VERSION without an integer version (one sentence)."""
    version = message.get("version")
    if type(version) is not int:
        msg = (
            f"The ACTIVATE_VERSION message on line {line} (stream {message.get('stream')!r}) "
            f"has no integer version (got {version!r})."
        )
        raise InputError(msg)


def check_batch(message: t.Mapping[str, t.Any], line: int) -> tuple[str, str]:
    """A BATCH's stream and file format, or one sentence of what is malformed."""
    stream = str(message.get("stream"))
    where = f"The BATCH message on line {line} (stream {stream!r})"
    encoding = message.get("encoding")
    manifest = message.get("manifest")
    if not isinstance(encoding, dict) or encoding.get("format") not in {"jsonl", "parquet"}:
        msg = f"{where} has no encoding with format jsonl or parquet (got {encoding!r})."
        raise InputError(msg)
    if not isinstance(manifest, list) or not all(isinstance(f, str) for f in manifest):
        msg = f"{where} has no manifest (a list of file URLs)."
        raise InputError(msg)
    return stream, str(encoding["format"])
