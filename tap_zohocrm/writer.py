"""The tap's Singer writer: orjson lines, RECORDs written in batches, every line whole."""

from __future__ import annotations

import datetime
import decimal
import sys
import typing as t
import weakref

import orjson
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import SingerMessageType
from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.encoding.simple import Message

__all__ = ["ZohoSingerWriter", "flush_writers"]


def _orjson_default(obj: t.Any) -> t.Any:
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, datetime.datetime):
        return obj.isoformat(sep="T")
    return str(obj)


#: The writers of this process, flushed when the command ends however it ends.
_WRITERS: weakref.WeakSet[ZohoSingerWriter] = weakref.WeakSet()


class ZohoSingerWriter(SingerWriter):
    """The SDK's writer, serialising with orjson and writing RECORD lines in batches.

    simplejson was, after the SDK's per-record schema walks, the largest per-record cost of a
    sync. The SDK also flushes stdout after every message: one write system call per record.
    Here RECORD lines wait in a list until :data:`RECORD_BATCH` of them, or any other message
    (SCHEMA, STATE, ACTIVATE_VERSION, BATCH), arrives, and go out with it in one write. So a
    STATE line still reaches the target after every record it covers and before the tap reads
    on, and lines are written whole. A sync ends with a STATE, and the command writes what a
    failed run still holds; held records lost to a kill are covered by no STATE the target has
    seen, so the next run reads them again. (The SDK's own fast writer,
    ``singer_sdk.contrib.msgspec``, needs msgspec; orjson is already a dependency.)
    """

    #: RECORD lines held before they are written (about one Zoho page).
    RECORD_BATCH = 200

    def __init__(self) -> None:
        """Create the writer with no lines held."""
        super().__init__()
        self._held: list[str] = []
        _WRITERS.add(self)

    @override
    def serialize_message(self, message: Message) -> str:
        try:
            return orjson.dumps(message.to_dict(), default=_orjson_default).decode()
        except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits
            return super().serialize_message(message)

    @override
    def write_message(self, message: Message) -> None:
        held = self._held
        held.append(self.format_message(message))
        if message.type == SingerMessageType.RECORD and len(held) < self.RECORD_BATCH:
            return
        self.flush()

    def flush(self) -> None:
        """Write the held lines, in order, in one write, and flush stdout."""
        if self._held:
            lines = "\n".join(self._held) + "\n"
            self._held.clear()
            sys.stdout.write(lines)
        sys.stdout.flush()


def flush_writers() -> None:
    """Write what every writer of this process still holds (when the command ends)."""
    for writer in list(_WRITERS):
        writer.flush()
