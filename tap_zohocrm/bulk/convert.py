"""The export's CSV rows -> records identical to Get Records output."""

from __future__ import annotations

import csv
import datetime
import io
import typing as t
import zipfile
import zlib

from tap_zohocrm.schema import CUSTOM_DISPLAY_FIELD, DISPLAY_FIELDS, SYSTEM_KEYS

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence


from tap_zohocrm.bulk.client import BulkReadError
from tap_zohocrm.bulk.constants import (
    _CSV_FIELD_LIMIT,
    _USER_TYPES,
    UNEXPORTED_TYPES,
    USER_COLUMNS,
    _Getter,
)


def _types(schema: Mapping[str, t.Any]) -> set[str]:
    kind = schema.get("type")
    names = [kind] if isinstance(kind, str) else list(kind or [])
    return {str(n) for n in names} - {"null"}


def _text(index: int) -> _Getter:
    return lambda row: row[index] or None


def _boolean(index: int) -> _Getter:
    def get(row: list[str]) -> bool | None:
        text = row[index].strip().lower()
        if text == "true":
            return True
        if text == "false":
            return False
        return None

    return get


def _number_value(text: str) -> int | float | None:
    """A JSON number as Get Records would have decoded it: int unless it has a fraction."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def _integer_value(text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return int(float(text))


def _datetime_value(text: str) -> str | None:
    """Zoho's REST rendering: seconds and an offset (``2024-01-20T04:01:48-08:00``)."""
    if not text:
        return None
    if len(text) == 25 and text[10] == "T" and text[19] in "+-":
        return text
    try:
        return datetime.datetime.fromisoformat(text).isoformat(timespec="seconds")
    except ValueError:
        return text


def _converted(index: int, convert: Callable[[str], t.Any]) -> _Getter:
    return lambda row: convert(row[index])


def _multiselect(index: int) -> _Getter:
    # Get Records renders an empty multi-select as [], never null.
    return lambda row: row[index].split(";") if row[index] else []


def _tags(index: int, ids: Mapping[str, str]) -> _Getter:
    return lambda row: (
        [{"name": name, "id": ids.get(name)} for name in row[index].split(";")]
        if row[index]
        else []
    )


def _lookup(index: int, name_index: int) -> _Getter:
    def get(row: list[str]) -> dict[str, t.Any] | None:
        record_id = row[index]
        if not record_id:
            return None
        return {"name": row[name_index] or None, "id": record_id}

    return get


def _user(index: int, first: int, last: int, email: int) -> _Getter:
    def get(row: list[str]) -> dict[str, t.Any] | None:
        user_id = row[index]
        if not user_id:
            return None
        name = " ".join(part for part in (row[first], row[last]) if part)
        return {"name": name or None, "id": user_id, "email": row[email] or None}

    return get


def _constant(value: t.Any) -> _Getter:
    return lambda row: value


class RecordPlan:
    """How one stream's selected fields are asked of Bulk Read and rebuilt from its CSV.

    Typing follows the stream's JSON schema (the same one Get Records output is checked
    against) and Zoho's field metadata (lookups and their target modules, types the list API
    omits), so that every record equals what Get Records would have emitted.
    """

    def __init__(
        self,
        fields: Sequence[str],
        properties: Mapping[str, Mapping[str, t.Any]],
        metadata: Sequence[Mapping[str, t.Any]],
        *,
        nested_off: Mapping[str, frozenset[str]] | None = None,
        tag_ids: Mapping[str, str] | None = None,
    ) -> None:
        """Plan the export.

        Args:
            fields: The record's properties, in order (the stream's selected properties).
            properties: The stream schema's properties.
            metadata: Zoho's ``/settings/fields`` entries of the module.
            nested_off: Deselected sub-properties of lookups (``Owner.email``).
            tag_ids: Tag names to ids, when ``Tag`` is selected.

        Raises:
            BulkReadError: When a lookup's target module is unknown.
        """
        self.fields = tuple(fields)
        self.nested_off = dict(nested_off or {})
        self.tag_ids = dict(tag_ids or {})
        by_name = {str(f.get("api_name")): f for f in metadata}
        #: (property, kind, related columns) per record field.
        self._specs: list[tuple[str, str, tuple[str, ...]]] = []
        columns: list[str] = []
        for name in self.fields:
            kind, related = self._classify(name, properties.get(name) or {}, by_name.get(name))
            self._specs.append((name, kind, related))
            if kind not in ("id", "null", "system"):
                columns.append(name)
                columns.extend(f"{name}.{column}" for column in related)
        #: The ``fields`` of the job query.
        self.columns = tuple(dict.fromkeys(columns))

    @property
    def needs_tags(self) -> bool:
        """Whether a ``Tag`` array is selected (its ids come from the tag list)."""
        return any(kind == "tags" for _, kind, _ in self._specs)

    @staticmethod
    def _classify(
        name: str, schema: Mapping[str, t.Any], field: Mapping[str, t.Any] | None
    ) -> tuple[str, tuple[str, ...]]:
        if name == "id":
            return "id", ()
        if name.startswith("_sdc_"):
            return "null", ()
        if name in SYSTEM_KEYS:
            return "system", ()  # a $ key: not a field to ask for, read if exported
        data_type = str((field or {}).get("data_type") or "").lower()
        if data_type in UNEXPORTED_TYPES:
            return "null", ()
        types = _types(schema)
        if "object" in types:
            properties = schema.get("properties") or {}
            if data_type in _USER_TYPES or (not data_type and "email" in properties):
                return "user", USER_COLUMNS
            lookup = (field or {}).get("lookup") or {}
            target = lookup.get("module") if isinstance(lookup, dict) else None
            target_name = target.get("api_name") if isinstance(target, dict) else target
            if not target_name:
                msg = (
                    f"Bulk Read cannot name the {name} lookup: Zoho's field metadata does not "
                    "say which module it looks up."
                )
                raise BulkReadError(msg)
            display = DISPLAY_FIELDS.get(str(target_name), CUSTOM_DISPLAY_FIELD)
            return "lookup", (display,)
        if "array" in types:
            items = schema.get("items") or {}
            if name == "Tag" or "object" in _types(items):
                return "tags", ()
            return "multiselect", ()
        if "integer" in types:
            return "integer", ()
        if "number" in types:
            return "number", ()
        if "boolean" in types:
            return "boolean", ()
        if schema.get("format") == "date-time":
            return "datetime", ()
        return "text", ()

    def converter(self, header: Sequence[str]) -> Callable[[list[str]], dict[str, t.Any]]:
        """Build the row converter for one CSV file's header.

        Args:
            header: The CSV's first row (``Id`` then the asked columns, in Zoho's order).

        Returns:
            A function from a CSV row to a record.

        Raises:
            BulkReadError: When the export lacks an asked column.
        """
        index = {column: n for n, column in enumerate(header)}

        def at(column: str) -> int:
            if column not in index:
                msg = f"Zoho CRM's Bulk Read export lacks the {column} column."
                raise BulkReadError(msg)
            return index[column]

        getters: list[tuple[str, _Getter]] = []
        for name, kind, related in self._specs:
            getter: _Getter
            if kind == "id":
                getter = _text(at("Id"))
            elif kind == "null":
                getter = _constant(None)
            elif kind == "system":
                key = SYSTEM_KEYS[name]
                getter = _text(index[key]) if key in index else _constant(None)
            elif kind == "user":
                first, last, email = (at(f"{name}.{column}") for column in related)
                getter = _user(at(name), first, last, email)
            elif kind == "lookup":
                getter = _lookup(at(name), at(f"{name}.{related[0]}"))
            elif kind == "tags":
                getter = _tags(at(name), self.tag_ids)
            elif kind == "multiselect":
                getter = _multiselect(at(name))
            elif kind == "integer":
                getter = _converted(at(name), _integer_value)
            elif kind == "number":
                getter = _converted(at(name), _number_value)
            elif kind == "boolean":
                getter = _boolean(at(name))
            elif kind == "datetime":
                getter = _converted(at(name), _datetime_value)
            else:
                getter = _text(at(name))
            getters.append((name, getter))
        width = len(header)
        nested_off = self.nested_off

        def convert(row: list[str]) -> dict[str, t.Any]:
            if len(row) < width:  # a short row: Zoho's CSV drops nothing, but never crash
                row = row + [""] * (width - len(row))
            record = {name: get(row) for name, get in getters}
            for name, off in nested_off.items():
                value = record.get(name)
                if isinstance(value, dict):
                    record[name] = {k: v for k, v in value.items() if k not in off}
            return record

        return convert

    def records(self, archive_file: t.IO[bytes]) -> Iterator[dict[str, t.Any]]:
        """Stream the records out of a downloaded zip, one CSV row at a time.

        Args:
            archive_file: The zip (a seekable binary file).

        Yields:
            Records, in the export's order.
        """
        if csv.field_size_limit() < _CSV_FIELD_LIMIT:
            csv.field_size_limit(_CSV_FIELD_LIMIT)
        try:
            archive = zipfile.ZipFile(archive_file)
        except zipfile.BadZipFile:
            msg = "Zoho CRM's Bulk Read download is not a zip file."
            raise BulkReadError(msg) from None
        with archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if not members:
                msg = "Zoho CRM's Bulk Read download holds no CSV file."
                raise BulkReadError(msg)
            with (
                archive.open(members[0]) as raw,
                io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
            ):
                rows = csv.reader(text)
                try:
                    header = next(rows, None)
                    if header is None:
                        return
                    convert = self.converter(header)
                    for row in rows:
                        if row:
                            yield convert(row)
                except (csv.Error, zlib.error, EOFError, ValueError) as ex:
                    # A corrupt zip member, a malformed CSV or a value that does not fit its
                    # type (ValueError covers UnicodeDecodeError): not worth a traceback.
                    reason = " ".join(f"{type(ex).__name__}: {ex}".split())
                    msg = f"Zoho CRM's Bulk Read export could not be read ({reason})."
                    raise BulkReadError(msg) from None


# -- one export --------------------------------------------------------------------------------
