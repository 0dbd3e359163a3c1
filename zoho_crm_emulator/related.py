"""One record's related data: a deal's ``Stage_History`` and any record's ``__timeline``.

Both are one call (one credit) per record, as in Zoho. A deal's stage history is its path
through the pipeline up to its current stage (generated), plus a row for every stage change a
mutation makes; a record's timeline is its creation, then one event per mutation with the
fields it changed (old and new values), newest first, paged with ``page_token``.
"""

from __future__ import annotations

import typing as t

from zoho_crm_emulator.data import API_USER
from zoho_crm_emulator.errors import ZohoError, invalid_data, required_param_missing
from zoho_crm_emulator.fielddefs import OPEN_STAGES, stable_id
from zoho_crm_emulator.messages import Request, Response
from zoho_crm_emulator.timeutil import parse_iso, render

if t.TYPE_CHECKING:
    from zoho_crm_emulator.config import EmulatorConfig
    from zoho_crm_emulator.fielddefs import ModuleDef
    from zoho_crm_emulator.model import Record


class Store(t.Protocol):
    """What the related lists read of the org (``store.Store`` is one)."""

    config: EmulatorConfig

    def module(self, name: str) -> ModuleDef:
        """A module's definition."""
        ...

    def live_record(self, module: str, record_id: str) -> Record | None:
        """A live record, or None."""
        ...

    def values(self, module: ModuleDef, record: Record) -> dict[str, t.Any]:
        """A record's field values."""
        ...


PROBABILITY = {stage: (i + 1) * 10 for i, stage in enumerate(OPEN_STAGES)}
_DAY = 86_400
#: Internal override keys (never rendered as fields).
STAGES_KEY = "__stage_history"
TIMELINE_KEY = "__timeline"
TIMELINE_PAGE = 20


def generated_stages(deal_id: str, record: Record, values: dict[str, t.Any]) -> list[dict]:
    """The stage rows of a deal as generated: one per stage up to its current one."""
    stage = values.get("Stage") or OPEN_STAGES[0]
    path = (
        list(OPEN_STAGES[: OPEN_STAGES.index(stage) + 1])
        if stage in OPEN_STAGES
        else [
            *OPEN_STAGES,
            stage,
        ]
    )
    rows = []
    for i, name in enumerate(path):
        moment = min(record.created + i * 3 * _DAY, record.modified)
        rows.append(_stage_row(f"{deal_id}.{i}", name, values, moment))
    return rows


def _stage_row(key: str, stage: str, values: dict[str, t.Any], moment: int) -> dict[str, t.Any]:
    return {
        "id": stable_id(f"stage.{key}"),
        "Stage": stage,
        "Amount": values.get("Amount"),
        "Probability": PROBABILITY.get(stage, 100 if stage == "Closed Won" else 0),
        "Expected_Revenue": values.get("Expected_Revenue"),
        "Closing_Date": values.get("Closing_Date"),
        "Modified_By": {"name": API_USER["name"], "id": API_USER["id"]},
        "_moment": moment,
    }


def stage_changed(record: Record, before: list[dict], values: dict[str, t.Any]) -> None:
    """Record a stage change of a deal (called by an edit that changed ``Stage``)."""
    rows = [dict(row) for row in before]
    rows.append(_stage_row(f"{record.id}.m{len(rows)}", values["Stage"], values, record.modified))
    record.overrides[STAGES_KEY] = rows


def note_event(record: Record, action: str, changes: dict[str, tuple[t.Any, t.Any]]) -> None:
    """Append an audited event to a record's timeline (kept with its overrides)."""
    events = list(record.overrides.get(TIMELINE_KEY) or [])
    events.append({"moment": record.modified, "action": action, "changes": changes})
    record.overrides[TIMELINE_KEY] = events


def stage_history(request: Request, store: Store, deal_id: str) -> Response:
    """Answer ``GET /crm/v8/Deals/{id}/Stage_History`` (``fields`` is required)."""
    if not (request.params.get("fields") or "").strip():
        raise required_param_missing("fields")
    definition = store.module("Deals")
    record = store.live_record("Deals", deal_id)
    if record is None:
        raise ZohoError(400, "INVALID_DATA", "the related id given seems to be invalid",
                        {"api_name": "id", "id": deal_id})  # fmt: skip
    values = store.values(definition, record)
    rows = record.overrides.get(STAGES_KEY) or generated_stages(deal_id, record, values)
    tz = store.config.timezone
    data = []
    for row in rows:
        out = {k: v for k, v in row.items() if k != "_moment"}
        out["Modified_Time"] = render(row["_moment"], tz)
        data.append(out)
    if not data:
        return Response(204)
    info = {"per_page": 200, "count": len(data), "page": 1, "more_records": False}
    return Response(200, {"data": data, "info": info})


def timeline(request: Request, store: Store, module: str, record_id: str) -> Response:
    """Answer ``GET /crm/v8/{Module}/{id}/__timeline``: newest first, ``page_token`` paging.

    ``filters`` may bound ``audited_time`` (``{"comparator": "between", "field": {"api_name":
    "audited_time"}, "value": [from, to]}`` as JSON).
    """
    definition = store.module(module)
    record = store.live_record(definition.api_name, record_id)
    if record is None:
        raise ZohoError(400, "INVALID_DATA", "the id given seems to be invalid",
                        {"api_name": "id", "id": record_id})  # fmt: skip
    tz = store.config.timezone
    created = {"moment": record.created, "action": "added", "changes": {}}
    events = [created, *(record.overrides.get(TIMELINE_KEY) or [])]
    low, high = _between(request.params.get("filters"))
    chosen = [e for e in events if (low is None or e["moment"] >= low) and (
        high is None or e["moment"] <= high)]  # fmt: skip
    chosen.reverse()  # newest first
    start = int(request.params.get("page_token") or 0)
    page = chosen[start : start + TIMELINE_PAGE]
    if not page:
        return Response(204)
    data = []
    for n, event in enumerate(page, start=start):
        index = len(chosen) - 1 - n
        data.append(
            {
                "id": stable_id(f"timeline.{record_id}.{index}"),
                "audited_time": render(event["moment"], tz),
                "action": event["action"],
                "source": "crm_api" if event["action"] != "added" else "crm_ui",
                "done_by": {"name": API_USER["name"], "id": API_USER["id"]},
                "record": {"id": record_id, "module": {"api_name": definition.api_name}},
                "field_history": [
                    {
                        "api_name": name,
                        "field_label": name.replace("_", " "),
                        "_value": {"old": _text(old), "new": _text(new)},
                    }
                    for name, (old, new) in event["changes"].items()
                ]
                or None,
            }
        )
    more = start + TIMELINE_PAGE < len(chosen)
    info: dict[str, t.Any] = {"per_page": TIMELINE_PAGE, "count": len(data), "more_records": more}
    if more:
        info["next_page_token"] = str(start + TIMELINE_PAGE)
    return Response(200, {"__timeline": data, "info": info})


def _text(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return value.get("name") or value.get("id")
    return value


def _between(raw: str | None) -> tuple[int | None, int | None]:
    if not raw:
        return None, None
    import json

    try:
        spec = json.loads(raw)
        low, high = spec["value"]
        assert spec["field"]["api_name"] == "audited_time"
        return parse_iso(low, param="filters"), parse_iso(high, param="filters")
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise invalid_data("invalid filters", param="filters") from exc
