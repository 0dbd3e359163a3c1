"""Singer message reader that counts input lines and parses with orjson.

The SDK's reader (``GenericSingerReader.process_lines``) neither counts lines nor lets
a target see which line failed, and its ``json`` + ``Decimal`` parsing is the slowest
step of a load.  Error sentences must name the input line, so this reader replaces the
loop: it reads bytes (orjson parses and validates UTF-8 in one go), keeps
:attr:`AuditReader.line_number` current for the callbacks, skips blank lines, and hands
every exception to a listener (the target) that turns it into one sentence and marks
the sync failed.
"""

from __future__ import annotations

import json
import re
import sys
import typing as t
from collections import Counter

import orjson
from singer_sdk.io_base import GenericSingerReader

from target_sqlite_audit.errors import InputError

if sys.version_info >= (3, 12):  # pragma: no cover
    from typing import override
else:  # pragma: no cover
    from typing_extensions import override

#: orjson reads integers beyond 64 bits as floats (keys would merge, bookmarks round), so a
#: line that may hold a number of 19+ digits is parsed by the json module, exactly. Cheap test:
#: with digits mapped to 0, every run of 19 zeros must start right after a quote (a string,
#: such as a Zoho id); anything else may be a number.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_RUN = b"0" * 19
_QUOTED_RUN = b'"' + _RUN
_STREAM_IN_LINE = re.compile(rb'"stream"\s*:\s*"((?:[^"\\]|\\.){0,200})"')


class ReaderListener(t.Protocol):
    """What the reader reports to (implemented by the target)."""

    def on_input_start(self) -> None:
        """Called once before the first line is read."""

    def on_input_end(self) -> None:
        """Called once after the last line."""

    def on_input_error(
        self, exc: BaseException, line_number: int, raw: bytes | str | None
    ) -> BaseException:
        """Called with any exception; returns the exception to raise instead."""


def stream_hint(raw: bytes | str | None) -> str | None:
    """Best-effort stream name from a raw (possibly malformed) input line.

    Args:
        raw: The raw line.

    Returns:
        The value of the first ``"stream": "..."`` pair, or None.
    """
    if raw is None:
        return None
    data = raw.encode("utf-8", "replace") if isinstance(raw, str) else raw
    match = _STREAM_IN_LINE.search(data)
    if not match:
        return None
    try:
        value = orjson.loads(b'"' + match.group(1) + b'"')
    except orjson.JSONDecodeError:
        return match.group(1).decode("utf-8", "replace")
    return str(value)


class AuditReader(GenericSingerReader[str]):
    """Reads Singer messages line by line, tracking the current line number."""

    def __init__(self) -> None:
        """Start at line 0 with no listener."""
        super().__init__()
        self.line_number = 0
        self.listener: ReaderListener | None = None

    @property
    def default_input(self) -> t.IO[str]:
        """Standard input (read as bytes by :meth:`process_lines`)."""
        return sys.stdin

    @override
    def deserialize_json(self, line: str) -> dict:
        """Parse one line (orjson; objects only).

        Args:
            line: The line.

        Returns:
            The message.
        """
        message = orjson.loads(line)
        if not isinstance(message, dict):
            msg = f"Line {self.line_number} is not a JSON object."
            raise InputError(msg)
        return message

    @override
    def process_lines(
        self,
        file_input: t.IO[str] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> t.Counter[str]:
        """Read all messages, dispatch them and count them by type.

        Args:
            file_input: Text or binary stream; standard input (as bytes) if None.
            callbacks: Message type -> handler.

        Returns:
            Messages processed per type.

        Raises:
            BaseException: Whatever the listener returns for an error.
        """
        source: t.Iterable[bytes | str]
        if file_input is None:
            source = sys.stdin.buffer
        else:
            source = getattr(file_input, "buffer", file_input)
        stats: Counter[str] = Counter()
        listener = self.listener
        raw: bytes | str | None = None
        loads = orjson.loads
        digits = _DIGITS_TO_ZERO
        try:
            if listener is not None:
                listener.on_input_start()
            for raw in source:
                self.line_number += 1
                try:
                    message = loads(raw)
                    # May the line hold an integer of 19+ digits outside a string (which
                    # orjson turns into a float)? False positives only cost a slower parse.
                    data = raw if isinstance(raw, bytes) else raw.encode()
                    zeros = data.translate(digits)
                    runs = zeros.count(_RUN)
                    if runs and runs != zeros.count(_QUOTED_RUN):
                        message = _exact_loads(raw)
                except orjson.JSONDecodeError as exc:
                    if not raw.strip():
                        continue
                    raise InputError(self._json_error(raw, exc)) from exc
                if type(message) is not dict:
                    msg = f"Line {self.line_number} is not a JSON object but {_json_kind(message)}."
                    raise InputError(msg)
                kind = message.get("type")
                callback = callbacks.get(kind) if isinstance(kind, str) else None
                if callback is None or not isinstance(kind, str):
                    raise InputError(self._type_error(message, kind))
                callback(message)
                stats[kind] += 1
            if listener is not None:
                # A stop signal that arrives together with the end of the input runs its
                # handler at the next call: make that happen inside this `try`.
                listener.on_input_end()
        except BaseException as exc:
            if listener is None:
                raise
            error = listener.on_input_error(exc, self.line_number, raw)
            if error is exc:
                raise
            raise error from exc
        return stats

    def _json_error(self, raw: bytes | str, exc: orjson.JSONDecodeError) -> str:
        stream = stream_hint(raw)
        where = f" (stream {stream!r})" if stream else " (stream unknown)"
        reason = exc.msg
        length = len(raw.rstrip(b"\r\n") if isinstance(raw, bytes) else raw.rstrip("\r\n"))
        if reason.startswith("unexpected end of data") or exc.pos >= length:
            reason = "the line is truncated"
        return (
            f"Line {self.line_number}{where} is not valid JSON: {reason} "
            f"(at character {exc.pos + 1})."
        )

    def _type_error(self, message: dict, kind: object) -> str:
        stream = message.get("stream")
        where = f" (stream {stream!r})" if isinstance(stream, str) else ""
        if kind is None:
            return f'Line {self.line_number}{where} is a JSON object without a "type".'
        return (
            f"Line {self.line_number}{where} has unknown message type {kind!r} "
            "(expected SCHEMA, RECORD, STATE, ACTIVATE_VERSION or BATCH)."
        )


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a " + type(value).__name__


def _exact_loads(raw: bytes | str) -> t.Any:
    """Parse a line with the json module, which keeps integers of any size exactly."""
    return json.loads(raw)
