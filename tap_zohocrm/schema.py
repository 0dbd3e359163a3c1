"""Zoho field metadata -> JSON Schema.

Types follow Zoho's ``data_type`` first (it is the more precise of the two), then
``json_type``. Rules that matter downstream:

- ``id`` and every id inside a lookup are strings: Zoho ids have 18-19 digits and do not survive
  a float (and many targets parse JSON integers as floats).
- datetimes are ``format: date-time`` strings kept with their offset; dates ``format: date``.
- lookups are objects ``{name, id}`` (owner lookups add ``email``); multi-select picklists are
  arrays of strings; ``Tag`` is an array of ``{name, id}`` objects.
- currency, decimal, percent and double are numbers; formula and rollup fields take the type
  of their ``return_type``.
- everything but ``id`` is nullable: a record lacks a value more often than not.
- formula and rollup summary fields carry a ``description`` starting with
  :data:`COMPUTED_MARKER`: Zoho changes their values without touching ``Modified_Time``, and
  ``refresh_formula_fields`` must recognise them from the catalog alone (the SDK keeps only
  standard JSON Schema keywords of a catalog, so a custom keyword would be lost).
- lookups carry a ``description`` starting with :data:`LOOKUP_MARKER` and naming the module
  they point at: COQL returns a lookup as ``{id}`` and its name only when asked for the
  target's name field, so the COQL reader needs the target from the catalog alone too.
"""

from __future__ import annotations

import copy
import json
import typing as t
from pathlib import Path

__all__ = [
    "COMPUTED_MARKER",
    "CUSTOM_DISPLAY_FIELD",
    "DELETED_AT",
    "DISPLAY_FIELDS",
    "LOOKUP_MARKER",
    "REPLICATION_KEY",
    "computed_properties",
    "field_schema",
    "lookup_target",
    "minimal_schema",
    "module_schema",
    "standard_schema",
]

REPLICATION_KEY = "Modified_Time"
#: The Singer convention for deletions; every stream schema carries it (see CONTRACTS.md).
DELETED_AT = "_sdc_deleted_at"
#: Start of the ``description`` of a field whose value Zoho computes (formula, rollup summary).
COMPUTED_MARKER = "Zoho computed field"
#: Start of the ``description`` of a lookup: the module it points at (COQL asks for its name).
LOOKUP_MARKER = "Zoho lookup to "
#: The field that names a record of each standard module: the ``name`` of a lookup to it in
#: Get Records, exported by Bulk Read as ``Lookup.<field>``. Custom modules use ``Name``.
DISPLAY_FIELDS: dict[str, str] = {
    "Leads": "Full_Name",
    "Contacts": "Full_Name",
    "Accounts": "Account_Name",
    "Deals": "Deal_Name",
    "Campaigns": "Campaign_Name",
    "Products": "Product_Name",
    "Vendors": "Vendor_Name",
    "Price_Books": "Price_Book_Name",
    "Quotes": "Subject",
    "Sales_Orders": "Subject",
    "Purchase_Orders": "Subject",
    "Invoices": "Subject",
    "Tasks": "Subject",
    "Calls": "Subject",
    "Cases": "Subject",
    "Events": "Event_Title",
    "Meetings": "Event_Title",
    "Solutions": "Solution_Title",
}
CUSTOM_DISPLAY_FIELD = "Name"
#: Zoho data types whose values change without ``Modified_Time`` changing.
COMPUTED_TYPES = ("formula", "rollup_summary")

_ANY_TYPES = ["string", "number", "integer", "boolean", "object", "array", "null"]

_LOOKUP: dict[str, t.Any] = {
    "type": ["object", "null"],
    "properties": {
        "name": {"type": ["string", "null"]},
        "id": {"type": ["string", "null"]},
    },
    "additionalProperties": True,
}
_OWNER_LOOKUP: dict[str, t.Any] = {
    "type": ["object", "null"],
    "properties": {
        "name": {"type": ["string", "null"]},
        "id": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
    },
    "additionalProperties": True,
}
_OBJECT_ARRAY: dict[str, t.Any] = {
    "type": ["array", "null"],
    "items": {"type": "object", "additionalProperties": True},
}
_TAGS: dict[str, t.Any] = {
    "type": ["array", "null"],
    "items": {
        "type": "object",
        "properties": {"name": {"type": ["string", "null"]}, "id": {"type": ["string", "null"]}},
        "additionalProperties": True,
    },
}

_STRING = {"type": ["string", "null"]}
_NUMBER = {"type": ["number", "null"]}
_INTEGER = {"type": ["integer", "null"]}
_BOOLEAN = {"type": ["boolean", "null"]}
_DATE = {"type": ["string", "null"], "format": "date"}
_DATETIME = {"type": ["string", "null"], "format": "date-time"}

#: Zoho data_type -> JSON Schema, for the types whose shape is fixed.
_BY_DATA_TYPE: dict[str, dict[str, t.Any]] = {
    "text": _STRING,
    "textarea": _STRING,
    "email": _STRING,
    "phone": _STRING,
    "website": _STRING,
    "picklist": _STRING,
    "autonumber": _STRING,
    "profileimage": _STRING,
    "multiselectpicklist": {"type": ["array", "null"], "items": {"type": "string"}},
    "integer": _INTEGER,
    "double": _NUMBER,
    "currency": _NUMBER,
    "percent": _NUMBER,
    "decimal": _NUMBER,
    "date": _DATE,
    "datetime": _DATETIME,
    "boolean": _BOOLEAN,
    "lookup": _LOOKUP,
    "ownerlookup": _OWNER_LOOKUP,
    "userlookup": _OWNER_LOOKUP,
    "subform": _OBJECT_ARRAY,
    "multiselectlookup": _OBJECT_ARRAY,
    "multiuserlookup": _OBJECT_ARRAY,
    "fileupload": _OBJECT_ARRAY,
    "imageupload": _OBJECT_ARRAY,
}

#: Zoho json_type -> JSON Schema, the fallback for data types not listed above.
_BY_JSON_TYPE: dict[str, dict[str, t.Any]] = {
    "string": _STRING,
    "integer": _INTEGER,
    "double": _NUMBER,
    "boolean": _BOOLEAN,
    "jsonarray": {"type": ["array", "null"], "items": {}},
    "jsonobject": {"type": ["object", "null"], "additionalProperties": True},
}

#: formula / rollup_summary return_type -> JSON Schema.
_BY_RETURN_TYPE: dict[str, dict[str, t.Any]] = {
    "double": _NUMBER,
    "currency": _NUMBER,
    "decimal": _NUMBER,
    "percent": _NUMBER,
    "integer": _INTEGER,
    "boolean": _BOOLEAN,
    "date": _DATE,
    "datetime": _DATETIME,
    "text": _STRING,
    "string": _STRING,
}

_ID_SCHEMA: dict[str, t.Any] = {"type": ["string"]}
_DELETED_AT_SCHEMA: dict[str, t.Any] = {"type": ["string", "null"], "format": "date-time"}


def field_schema(field: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """JSON Schema of one field from ``/settings/fields``.

    Args:
        field: One entry of the ``fields`` list.

    Returns:
        A fresh JSON Schema dict (callers may mutate it).
    """
    api_name = field.get("api_name")
    data_type = str(field.get("data_type") or "").lower()
    json_type = str(field.get("json_type") or "").lower()
    if api_name == "id":
        return dict(_ID_SCHEMA)
    if api_name == "Tag":
        return copy.deepcopy(_TAGS)
    if data_type in {"formula", "rollup_summary"}:
        spec = field.get(data_type) or {}
        return_type = str(spec.get("return_type") or "").lower() if isinstance(spec, dict) else ""
        if return_type in _BY_RETURN_TYPE:
            return copy.deepcopy(_BY_RETURN_TYPE[return_type])
    elif data_type == "bigint":
        # "Long integer" fields: a string in JSON when Zoho says so (the usual case), since
        # 19-digit values do not survive a float.
        return copy.deepcopy(_INTEGER if json_type == "integer" else _STRING)
    elif data_type in _BY_DATA_TYPE:
        return copy.deepcopy(_BY_DATA_TYPE[data_type])
    if json_type in _BY_JSON_TYPE:
        return copy.deepcopy(_BY_JSON_TYPE[json_type])
    return {"type": list(_ANY_TYPES)}


#: Fields that point at a parent record of any module (activities, notes).
PARENT_FIELDS = frozenset({"What_Id", "Parent_Id"})
#: The property that keeps Zoho's ``$se_module`` key: ``$`` is not a portable column name
#: (PostgreSQL needs it quoted; some targets drop it), and lower case loads unchanged.
SE_MODULE = "zoho_se_module"
#: Properties filled from Zoho's ``$`` record keys instead of from a field of the same name.
SYSTEM_KEYS = {
    SE_MODULE: "$se_module",
    "zoho_state": "$state",
    "zoho_approval_state": "$approval_state",
    "zoho_currency_symbol": "$currency_symbol",
}


def _lookup_target(field: t.Mapping[str, t.Any]) -> str | None:
    lookup = field.get("lookup")
    module = lookup.get("module") if isinstance(lookup, dict) else None
    name = module.get("api_name") if isinstance(module, dict) else None
    return name if isinstance(name, str) and name else None


def lookup_target(prop: t.Mapping[str, t.Any]) -> str | None:
    """The module a lookup property points at, from its catalog ``description``."""
    text = str(prop.get("description") or "")
    if not text.startswith(LOOKUP_MARKER):
        return None
    return text[len(LOOKUP_MARKER) :].rstrip(".").strip() or None


def _system(description: str) -> dict[str, t.Any]:
    return {"type": ["string", "null"], "description": f"Zoho's {description}."}


def module_schema(fields: t.Iterable[t.Mapping[str, t.Any]]) -> dict[str, t.Any]:
    """JSON Schema of a module's records from its field metadata.

    ``id`` comes first (Zoho's field list does not name it), then the fields in Zoho's order,
    then ``_sdc_deleted_at``.

    Args:
        fields: The ``fields`` list of ``/settings/fields?module=...``.

    Returns:
        An object schema.
    """
    properties: dict[str, t.Any] = {"id": dict(_ID_SCHEMA)}
    for field in fields:
        api_name = field.get("api_name")
        if not api_name or not isinstance(api_name, str) or api_name.startswith("$"):
            continue
        if api_name == "id":
            continue
        schema = field_schema(field)
        data_type = str(field.get("data_type") or "").lower()
        target = _lookup_target(field) if data_type == "lookup" else None
        if target:
            schema["description"] = f"{LOOKUP_MARKER}{target}."
        if data_type in COMPUTED_TYPES:
            schema["description"] = (
                f"{COMPUTED_MARKER} ({data_type}): its value can change without Modified_Time "
                "changing."
            )
        properties[api_name] = schema
    if PARENT_FIELDS & properties.keys():
        properties[SE_MODULE] = _system("$se_module: the module of the What_Id/Parent_Id record")
    properties["zoho_state"] = _system("$state: save, or draft for a record not yet saved")
    properties["zoho_approval_state"] = _system("$approval_state: approved, or an approval step")
    types = {str(f.get("data_type") or "").lower() for f in fields if isinstance(f, dict)}
    if "currency" in types:
        properties["zoho_currency_symbol"] = _system("$currency_symbol of the record's currency")
    # No Modified_Time is added when the module lacks one: the stream then syncs full table.
    properties[DELETED_AT] = dict(_DELETED_AT_SCHEMA)
    return {"type": "object", "properties": properties}


def computed_properties(schema: t.Mapping[str, t.Any]) -> list[str]:
    """Properties of a schema that Zoho computes (formula, rollup summary), in schema order.

    Args:
        schema: A stream schema made by :func:`module_schema` (or a catalog holding one).

    Returns:
        Their names.
    """
    properties = schema.get("properties") or {}
    return [
        name
        for name, prop in properties.items()
        if isinstance(prop, dict) and str(prop.get("description") or "").startswith(COMPUTED_MARKER)
    ]


def minimal_schema() -> dict[str, t.Any]:
    """The schema of a module known by name only: ``id``, ``Modified_Time``, deletions.

    Used for a module without a bundled schema whose field metadata cannot be read.
    """
    return {
        "type": "object",
        "properties": {
            "id": dict(_ID_SCHEMA),
            REPLICATION_KEY: dict(_DATETIME),
            DELETED_AT: dict(_DELETED_AT_SCHEMA),
        },
    }


def _schema_dirs() -> list[Path]:
    package_dir = Path(__file__).resolve().parent
    # In a wheel the files are force-included as tap_zohocrm/_schemas (see pyproject.toml); in
    # a source checkout or editable install they live in the repository's schemas/ folder.
    return [package_dir / "_schemas", package_dir.parent / "schemas"]


def standard_schema(stream_name: str) -> dict[str, t.Any]:
    """The bundled schema of a module's standard fields (``schemas/{stream}.json``).

    Used when the field metadata cannot be read; custom fields are then missing.

    Args:
        stream_name: The stream name, e.g. ``leads``.

    Returns:
        The schema, with ``id``, ``Modified_Time`` and ``_sdc_deleted_at`` guaranteed.

    Raises:
        FileNotFoundError: When the module has no bundled schema.
    """
    for folder in _schema_dirs():
        path = folder / f"{stream_name}.json"
        if path.is_file():
            schema = json.loads(path.read_text(encoding="utf-8"))
            properties = schema.setdefault("properties", {})
            properties.setdefault("id", dict(_ID_SCHEMA))
            properties.setdefault(REPLICATION_KEY, dict(_DATETIME))
            properties.setdefault(DELETED_AT, dict(_DELETED_AT_SCHEMA))
            return t.cast("dict[str, t.Any]", schema)
    msg = f"No bundled schema for stream '{stream_name}'."
    raise FileNotFoundError(msg)
