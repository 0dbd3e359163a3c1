"""The ``/coql`` endpoint over the store: which rows a module has, their values and shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zoho_crm_emulator import coql
from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.errors import ZohoError
from zoho_crm_emulator.fielddefs import ModuleDef
from zoho_crm_emulator.messages import Request, Response
from zoho_crm_emulator.metadata import find_module
from zoho_crm_emulator.model import Record
from zoho_crm_emulator.store import Store
from zoho_crm_emulator.subforms import PARENTS, SUBFORMS

__all__ = ["CoqlApi", "query_module"]

#: Modules Zoho's COQL does not serve (its documented module list has no Notes).
NOT_IN_COQL = frozenset({"Notes"})
_USER_COLUMNS = {"id": "id", "full_name": "name", "email": "email"}
_NUMERIC = frozenset({"integer", "double", "currency", "decimal", "percent", "bigint"})


def query_module(request: Request) -> str:
    """The module a COQL body names (``""`` when it cannot be read), for its scope check."""
    try:
        text = request.json().get("select_query")
        tokens = coql.tokenize(text) if isinstance(text, str) else []
    except (ValueError, ZohoError):
        return ""
    for index, token in enumerate(tokens[:-1]):
        if token.kind == "kw" and token.text == "from" and tokens[index + 1].kind == "word":
            return tokens[index + 1].text
    return ""


class CoqlApi:
    """Answers ``POST /crm/v8/coql`` from the store."""

    def __init__(self, store: Store, config: EmulatorConfig) -> None:
        self.store = store
        self.config = config

    def query(self, request: Request) -> Response:
        """Parse, check, run and price one COQL query."""
        try:
            body = request.json()
        except ValueError:
            body = {}
        text = body.get("select_query")
        if not isinstance(text, str) or not text.strip():
            raise ZohoError(
                400, "REQUIRED_PARAM_MISSING", "select_query is missing", {"param": "select_query"}
            )
        parsed = coql.parse(text, max_fields=self.config.coql_max_fields)
        subform = SUBFORMS.get(parsed.module) or next(
            (d for n, d in SUBFORMS.items() if n.lower() == parsed.module.lower()), None
        )
        if subform is not None:
            return self._subform_query(parsed, subform)
        definition = find_module(parsed.module)
        if definition is None or not definition.api_supported or definition.api_name in NOT_IN_COQL:
            raise ZohoError(400, "INVALID_QUERY", "invalid module given", {"module": parsed.module})
        store = self.store
        with store.lock:
            records = list(store.query(definition.api_name, converted="both", sort_by="id"))
            page, more = coql.run(
                parsed,
                records,
                resolve=lambda row, column: self._resolve(definition, row, column),
                type_of=lambda column: self._type_of(definition, column),
                render=lambda row, columns: self._render(definition, row, columns),
            )
        return _answer(page, more, parsed.limit)

    def _subform_query(self, parsed: coql.Query, subform: ModuleDef) -> Response:
        """A subform read as its own module: every row of every live parent."""
        parent_module, _ = PARENTS[subform.api_name]
        store = self.store
        parent_def = store.module(parent_module)
        with store.lock:
            parents = [
                (record, store.values_of(parent_def, record).get(parent_def.display_field))
                for record in store.query(parent_module, sort_by="id")
            ]
            rows = store.subforms.all_rows(subform.api_name, iter(parents))
            page, more = coql.run(
                parsed,
                rows,
                resolve=lambda row, column: _row_value(subform, row, column),
                type_of=lambda column: self._type_of(subform, column),
                render=lambda row, columns: _render_row(subform, row, columns),
            )
        return _answer(page, more, parsed.limit)

    # -- columns -------------------------------------------------------------------------

    def _type_of(self, module: ModuleDef, column: str) -> str | None:
        if column == "id":
            return "id"
        head, _, tail = column.partition(".")
        field = module.by_name.get(head)
        if field is None:
            return None
        data_type = field.return_type if field.data_type == "formula" else field.data_type
        if not tail:
            return data_type or "text"
        if field.data_type in ("ownerlookup", "userlookup"):
            return {"id": "id"}.get(tail, "text" if tail in _USER_COLUMNS else None)
        if field.data_type != "lookup" or field.lookup is None:
            return None
        if tail == "id":
            return "id"
        target = find_module(field.lookup)
        sub = target.by_name.get(tail) if target else None
        if sub is None or "." in tail:
            return None
        return sub.data_type if sub.data_type != "formula" else (sub.return_type or "text")

    def _resolve(self, module: ModuleDef, record: Record, column: str) -> Any:
        if column == "id":
            return record.id
        if column in ("Modified_Time", "Created_Time"):
            return record.modified if column == "Modified_Time" else record.created
        values = self.store.values_of(module, record)
        head, _, tail = column.partition(".")
        value = values.get(head)
        if not tail:
            # A lookup in WHERE compares its id (``Owner = 5725767000000409001``).
            return value.get("id") if isinstance(value, Mapping) and "id" in value else value
        if not isinstance(value, Mapping):
            return None
        field = module.by_name[head]
        if field.data_type in ("ownerlookup", "userlookup"):
            return value.get(_USER_COLUMNS[tail])
        if tail == "id":
            return value.get("id")
        target = find_module(field.lookup or "")
        if target is not None and tail == target.display_field:
            return value.get("name")  # the name Get Records shows, so both paths agree
        linked = self.store.live_record(target.api_name, str(value.get("id"))) if target else None
        if linked is None or target is None:
            return None
        return self.store.values_of(target, linked).get(tail)

    def _render(self, module: ModuleDef, record: Record, columns: tuple[str, ...]) -> dict:
        plain = [c for c in columns if "." not in c and c != "id"]
        out = self.store.render(module, record, plain)
        for name in plain:
            field = module.by_name[name]
            value = out.get(name)
            if field.data_type in ("lookup", "ownerlookup", "userlookup") and value:
                out[name] = {"id": value.get("id")}
        for column in columns:
            if "." in column:
                out[column] = self._resolve(module, record, column)
        for key in ("$approved", "$editable", "$converted"):
            out.pop(key, None)
        if not self.config.coql_system_keys:
            for key in [k for k in out if k.startswith("$")]:
                del out[key]
        return out


def _answer(page: list[dict[str, Any]], more: bool, limit: int) -> Response:
    credits = coql.credits_for_limit(limit)
    if not page:
        return Response(204, credits=credits)
    return Response(
        200, {"data": page, "info": {"count": len(page), "more_records": more}}, credits=credits
    )


def _row_value(module: ModuleDef, row: Mapping[str, Any], column: str) -> Any:
    """A subform row's value of a column (lookups by id, dot columns from the lookup)."""
    head, _, tail = column.partition(".")
    value = row.get(head)
    if isinstance(value, Mapping):
        if not tail:
            return value.get("id")
        field = module.by_name.get(head)
        target = find_module(field.lookup or "") if field else None
        if tail == "id":
            return value.get("id")
        if target is not None and tail == target.display_field:
            return value.get("name")
        return None
    return None if tail else value


def _render_row(module: ModuleDef, row: Mapping[str, Any], columns: tuple[str, ...]) -> dict:
    out: dict[str, Any] = {"id": row.get("id")}
    for column in columns:
        if column == "id":
            continue
        value = row.get(column)
        if "." in column:
            out[column] = _row_value(module, row, column)
        elif isinstance(value, Mapping):
            out[column] = {"id": value.get("id")}
        else:
            out[column] = value
    return out
