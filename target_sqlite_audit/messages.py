"""Singer messages checked before the SDK sees them: one sentence for each malformed part."""

from __future__ import annotations

import typing as t

from target_sqlite_audit.errors import InputError

__all__ = ["SchemaMessage", "parse_schema_message"]


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
