"""Streams read one call per changed parent record: deal stage history and record timelines.

Each keeps its own bookmark on the parents' ``Modified_Time`` (every row carries it as
``parent_modified_time``), so it never depends on what another stream read in this run: a
run killed between the two resumes both. Parents changed since the bookmark are listed with
Get Records (``fields=Modified_Time``, 1 credit per 200, keyset order); then one call each.
The first sync reads nothing by default (one credit per parent can be a lot): it logs the
estimate and starts the bookmark now; ``stage_history_backfill`` / ``timeline_backfill`` read
every parent instead.
"""

from __future__ import annotations

import datetime
import json
import typing as t

from singer_sdk import typing as th
from typing_extensions import override

from tap_zohocrm.bookmarks import parse_instant, to_header_value
from tap_zohocrm.client import ZohoStream, answer_time, page_info, response_payload

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import requests
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.run import ZohoRun

PARENT_MODIFIED = "parent_modified_time"
#: State key: the bookmark a run reached when it finished (not the case after a kill).
COMPLETED_AT = "completed_at_bookmark"
_Named = th.ObjectType(th.Property("id", th.StringType), th.Property("name", th.StringType))
_UTC = datetime.timezone.utc


def utc_text(value: str) -> str:
    """An instant in UTC text: the SDK compares bookmarks as text, and Zoho's offsets vary."""
    return parse_instant(value).astimezone(_UTC).isoformat()


class PerRecordStream(ZohoStream):
    """Rows of one related call per parent record changed since the bookmark."""

    @override
    def page_problem(self, response: requests.Response) -> str | None:
        if not self.records_key:  # a single object (the record count)
            payload = response_payload(response)
            return None if isinstance(payload, dict) else "the body is not Zoho's JSON object"
        return super().page_problem(response)

    parent_module: t.ClassVar[str] = ""
    path = ""
    #: A checkpoint every 50 rows: each parent cost a credit, so a resume should not redo many.
    STATE_MSG_FREQUENCY = 50
    replication_key = PARENT_MODIFIED
    selected_by_default = False
    #: Setting that makes a first sync read every parent (else it starts from now).
    backfill_setting: t.ClassVar[str] = ""
    #: Whether a first sync reads every parent anyway (cheap per-batch reads).
    backfill_by_default: t.ClassVar[bool] = False
    properties: t.ClassVar[th.PropertiesList]

    def __init__(self, tap: ZohoRun, schema: dict[str, t.Any] | None = None) -> None:
        """Create the stream from its declaration (or a schema built at discovery)."""
        super().__init__(tap, schema=schema or self.properties.to_dict())
        self.what = f"the {self.parent_module} {self.name}"
        #: Zoho's clock at the first listing call of this run.
        self._listed_at: datetime.datetime | None = None

    @property
    @override
    def is_sorted(self) -> bool:
        return True  # parents are read in Modified_Time order

    def call(
        self, path: str, params: dict[str, t.Any], since: str | None, records_key: str = "data"
    ) -> requests.Response:
        """One GET through the stream's retries, token refresh, errors and credit count.

        ``records_key`` names the list a 200 body must hold (empty: a single object).
        """
        self.path = path  # for the SDK's metrics and our error sentences
        self.records_key, self.paged = records_key, bool(records_key)
        return self.send("GET", path, params=params, modified_since=since)

    def changed_parents(self, since: str | None) -> Iterator[tuple[str, str]]:
        """(id, Modified_Time) of the parents modified after ``since``, oldest first.

        Keyset pages: each next query starts at the second before the page's last one, and
        the repeats of that second are dropped, so parents edited meanwhile are not skipped.
        """
        seen: set[tuple[str, str]] = set()
        token: str | None = None
        while True:
            params: dict[str, t.Any] = {
                "fields": "Modified_Time", "sort_by": "Modified_Time", "sort_order": "asc",
                "per_page": 200,
            }  # fmt: skip
            if self.parent_module == "Leads":
                params["converted"] = "both"  # a conversion is a change of the lead
            if token:
                params["page_token"] = token
            response = self.call(f"/{self.parent_module}", params, since)
            if self._listed_at is None:
                self._listed_at = answer_time(response)
            payload = response_payload(response)
            rows = payload.get("data") if isinstance(payload, dict) else None
            rows = [r for r in rows or [] if isinstance(r, dict) and r.get("id")]
            for row in rows:
                key = (str(row["id"]), str(row.get("Modified_Time")))
                if key not in seen:
                    seen.add(key)
                    yield key
            info = page_info(response) if rows else {}
            if not info.get("more_records"):
                return
            last = parse_instant(str(rows[-1]["Modified_Time"]))
            older = [
                str(r["Modified_Time"])
                for r in rows
                if parse_instant(str(r["Modified_Time"])) < last
            ]
            if older:
                since, token = max(older, key=parse_instant), None
            else:  # a whole page in one second: follow Zoho's page token within the query
                token = str(info.get("next_page_token") or "") or None
                if token is None:
                    return

    def rows_of(
        self, parent_id: str, since: str | None, modified: str
    ) -> Iterable[dict[str, t.Any]]:
        """The related rows of one parent changed after ``since`` up to ``modified``."""
        raise NotImplementedError

    def rows_for_parents(
        self, parents: Iterator[tuple[str, str]], since: str | None, state: dict[str, t.Any]
    ) -> Iterator[dict[str, t.Any]]:
        """The rows of the changed parents, in their order, each with ``parent_modified_time``.

        One call per parent by default; a stream that reads many parents per call overrides it.
        """
        for parent_id, modified in parents:
            utc = utc_text(modified)
            for row in self.rows_of(parent_id, since, modified):
                yield {**row, PARENT_MODIFIED: utc}

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        return self.within_budget(self._records(context), context)

    def _records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        bookmark = self.get_starting_replication_key_value(context)
        state = self.get_context_state(context)
        if not state.get("replication_key_value") and not (
            self.backfill_by_default
            or (self.backfill_setting and getattr(self.settings, self.backfill_setting))
        ):
            self._start_from_now(state)
            return
        # After an interrupted run, re-read the bookmark's own second: a run stopped inside
        # it resumes whole. After a complete one, what follows the bookmark is new.
        since = str(bookmark) if bookmark else None
        if bookmark and state.get(COMPLETED_AT) != bookmark:
            since = (parse_instant(str(bookmark)) - datetime.timedelta(seconds=1)).isoformat()
        counted: list[int] = [0]

        def parents() -> Iterator[tuple[str, str]]:
            for parent in self.changed_parents(since):
                counted[0] += 1
                yield parent

        yield from self.rows_for_parents(parents(), since, state)
        parents_read = counted[0]
        # The bookmark's second is complete only if it had passed when the listing began;
        # otherwise parents may still be edited within it, and the next run re-reads it.
        reached = state.get("replication_key_value")
        listed = self._listed_at or datetime.datetime.now(_UTC)
        closed = listed - datetime.timedelta(seconds=1)
        if reached and parse_instant(str(reached)) < closed:
            state[COMPLETED_AT] = reached
        else:
            state.pop(COMPLETED_AT, None)
        self.logger.info(
            "Stream %s done: %d changed %s read; %d API calls, %d credits spent%s",
            self.name,
            parents_read,
            self.parent_module,
            self.api_calls,
            self.api_credits,
            self.credits_left(),
        )

    def _start_from_now(self, state: dict[str, t.Any]) -> None:
        count = self.call(f"/{self.parent_module}/actions/count", {}, None, records_key="")
        payload = response_payload(count)
        total = payload.get("count") if isinstance(payload, dict) else None
        # The second before Zoho's "now": every later edit is after the bookmark.
        now = (answer_time(count) - datetime.timedelta(seconds=1)).isoformat()
        state["replication_key"] = PARENT_MODIFIED
        state["replication_key_value"] = state[COMPLETED_AT] = now
        hint = f"; set {self.backfill_setting} to read them" if self.backfill_setting else ""
        self.logger.warning(
            "Stream %s starts now: reading all %s existing %s would cost about %s credits (one "
            "per record)%s. From the next run on, the %s changed since %s are read.",
            self.name,
            total if total is not None else "the",
            self.parent_module,
            total if total is not None else "one per record",
            hint,
            self.parent_module,
            now,
        )


class DealStageHistoryStream(PerRecordStream):
    """Each changed deal's ``Stage_History`` related list (1 credit per deal)."""

    name = "deal_stage_history"
    parent_module = "Deals"
    primary_keys: t.ClassVar[list[str]] = ["id"]  # type: ignore[misc]
    backfill_setting = "stage_history_backfill"
    properties = th.PropertiesList(
        th.Property("id", th.StringType, required=True),
        th.Property("deal_id", th.StringType),
        th.Property("Stage", th.StringType),
        th.Property("Amount", th.NumberType),
        th.Property("Probability", th.NumberType),
        th.Property("Expected_Revenue", th.NumberType),
        th.Property("Closing_Date", th.StringType),
        th.Property("Modified_Time", th.DateTimeType, description="When the stage was entered"),
        th.Property("Modified_By", _Named),
        th.Property(PARENT_MODIFIED, th.DateTimeType),
    )
    _FIELDS = "Stage,Amount,Probability,Expected_Revenue,Closing_Date,Modified_Time,Modified_By"

    @override
    def rows_of(
        self, parent_id: str, since: str | None, modified: str
    ) -> Iterable[dict[str, t.Any]]:
        response = self.call(f"/Deals/{parent_id}/Stage_History", {"fields": self._FIELDS}, None)
        payload = response_payload(response)
        for raw in (payload.get("data") if isinstance(payload, dict) else None) or []:
            modified = raw.get("Modified_Time") or raw.get("Last_Modified_Time")
            yield {
                "id": str(raw.get("id")),
                "deal_id": parent_id,
                "Stage": raw.get("Stage"),
                "Amount": raw.get("Amount"),
                "Probability": raw.get("Probability"),
                "Expected_Revenue": raw.get("Expected_Revenue"),
                "Closing_Date": raw.get("Closing_Date"),
                "Modified_Time": modified,
                "Modified_By": raw.get("Modified_By"),
            }


def _text(value: t.Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


class TimelineStream(PerRecordStream):
    """Who changed what: a record's ``__timeline`` events since the last sync, per field."""

    primary_keys: t.ClassVar[list[str]] = ["row_id"]  # type: ignore[misc]
    selected_by_default = True  # named in timeline_modules: wanted
    backfill_setting = "timeline_backfill"
    properties = th.PropertiesList(
        th.Property("row_id", th.StringType, required=True, description="event id:field"),
        th.Property("event_id", th.StringType),
        th.Property("record_id", th.StringType),
        th.Property("module", th.StringType),
        th.Property("audited_time", th.DateTimeType),
        th.Property("action", th.StringType),
        th.Property("source", th.StringType),
        th.Property("done_by", _Named),
        th.Property("field", th.StringType),
        th.Property("field_label", th.StringType),
        th.Property("old_value", th.StringType),
        th.Property("new_value", th.StringType),
        th.Property(PARENT_MODIFIED, th.DateTimeType),
    )

    @override
    def rows_of(
        self, parent_id: str, since: str | None, modified: str
    ) -> Iterable[dict[str, t.Any]]:
        params: dict[str, t.Any] = {}
        if since:
            # Up to the record's Modified_Time: its latest audited change.
            bounds = [to_header_value(since), to_header_value(modified)]
            params["filters"] = json.dumps(
                {"comparator": "between", "field": {"api_name": "audited_time"}, "value": bounds}
            )
        token = None
        while True:
            if token:
                params["page_token"] = token
            path = f"/{self.parent_module}/{parent_id}/__timeline"
            response = self.call(path, params, None, records_key="__timeline")
            payload = response_payload(response)
            events = (payload.get("__timeline") if isinstance(payload, dict) else None) or []
            for event in events:
                yield from self._rows(parent_id, event)
            info = page_info(response) if events else {}
            token = info.get("next_page_token") if info.get("more_records") else None
            if not token:
                return

    def _rows(self, parent_id: str, event: dict[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        base = {
            "event_id": str(event.get("id")),
            "record_id": parent_id,
            "module": self.parent_module,
            "audited_time": event.get("audited_time"),
            "action": event.get("action"),
            "source": event.get("source"),
            "done_by": event.get("done_by"),
        }
        changes = event.get("field_history") or [{}]
        for change in changes:
            value = change.get("_value") or {}
            field = change.get("api_name")
            yield {
                **base,
                "row_id": f"{base['event_id']}:{field or ''}",
                "field": field,
                "field_label": change.get("field_label"),
                "old_value": _text(value.get("old")),
                "new_value": _text(value.get("new")),
            }


def timeline_stream(tap: ZohoRun, module: str, name: str) -> TimelineStream:
    """The ``<module>_timeline`` stream of one module (its own class: the SDK keys by type)."""
    cls = type(
        f"{module}TimelineStream", (TimelineStream,), {"name": name, "parent_module": module}
    )
    return t.cast("TimelineStream", cls(tap))
