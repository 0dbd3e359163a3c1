"""Bulk Read: asynchronous export jobs, their state over time, and zipped CSV results.

A job selects its records when it is created (a snapshot, as Zoho's export does), then moves
through ADDED, QUEUED and IN PROGRESS to COMPLETED (or FAILURE) as time passes, while a
background thread renders the CSV. Its first ``bulk_page_size`` records are exported; more
need a new job with the next ``page`` or the ``next_page_token``. CSV values follow Zoho's
export: lookups as the related id, booleans as ``true``/``false``, multi-selects joined by
``;``, related fields through ``Lookup.Field``.
"""

from __future__ import annotations

import csv
import io
import threading
import time
import zipfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zoho_crm_emulator.bulk_criteria import (
    Getter,
    boolean,
    compile_criteria,
    instant,
    maybe_instant,
)
from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.data import API_USER, ID_BASE
from zoho_crm_emulator.errors import (
    ZohoError,
    invalid_data,
    required_param_missing,
    too_many_requests,
)
from zoho_crm_emulator.faults import FaultInjector
from zoho_crm_emulator.fielddefs import (
    NOT_IN_BULK_READ,
    PARENT_FIELDS,
    FieldDef,
    ModuleDef,
    stable_id,
)
from zoho_crm_emulator.messages import Request, Response
from zoho_crm_emulator.metadata import find_module
from zoho_crm_emulator.model import Record
from zoho_crm_emulator.paging import PageTokens, bind
from zoho_crm_emulator.store import Store
from zoho_crm_emulator.timeutil import render

_TIME_FIELDS = {"Created_Time": "created", "Modified_Time": "modified"}


@dataclass
class BulkJob:
    """One Bulk Read job.

    Attributes:
        id: Job id (19 digits).
        module: Module definition.
        columns: CSV columns after ``Id``.
        query: The query as echoed by the status endpoint.
        records: The records this job exports (copies taken at creation).
        page: Page of the selection this job covers.
        count: Number of records exported.
        more_records: Whether the selection has records past this job's page.
        next_page_token: Token for the next job, when more_records.
        created_at: Creation wall time (epoch seconds, float).
        fails: Whether the job ends in FAILURE.
        result: The zipped CSV once rendered.
        done: Set when rendering finished.
    """

    id: str
    module: ModuleDef
    columns: list[str]
    query: dict[str, Any]
    records: list[Record]
    page: int
    count: int
    more_records: bool
    next_page_token: str | None
    created_at: float
    fails: bool
    result: bytes | None = None
    done: threading.Event = field(default_factory=threading.Event)


class BulkRead:
    """Handlers of ``/crm/bulk/v8/read`` for one emulator.

    Args:
        store: The org's records.
        config: The live config (job duration, page size, download limits).
        faults: Decides which jobs fail.
    """

    def __init__(self, store: Store, config: EmulatorConfig, faults: FaultInjector) -> None:
        self.store = store
        self.config = config
        self.faults = faults
        self.tokens = PageTokens()
        self._jobs: dict[str, BulkJob] = {}
        self._lock = threading.Lock()
        self._downloads: deque[float] = deque()
        self._next_job = ID_BASE + 900_000_000

    # --- Endpoints ------------------------------------------------------------------

    def create(self, request: Request) -> Response:
        """Answer ``POST /crm/bulk/v8/read``: validate the query and start a job."""
        if "application/json" not in request.headers.get("content-type", ""):
            raise ZohoError(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "the content type must be application/json",
                {"expected": "application/json"},
            )
        try:
            body = request.json()
        except ValueError:
            raise invalid_data("the body must be a JSON object") from None
        query = body.get("query")
        if not isinstance(query, dict):
            raise required_param_missing("query")
        module = self._module(query)
        columns = self._columns(module, query.get("fields"))
        predicate = compile_criteria(module, query.get("criteria"), self._getter)
        fingerprint = bind(
            module.api_name,
            {"fields": ",".join(columns), "criteria": repr(query.get("criteria"))},
            None,
        )
        size = max(1, self.config.bulk_page_size)
        if query.get("page_token") is not None:
            if query.get("page") is not None:
                raise ZohoError(
                    400,
                    "AMBIGUITY_DURING_PROCESSING",
                    "page and page_token cannot be given together",
                    {"ambiguity_due_to": ["page", "page_token"]},
                )
            offset = self.tokens.offset(str(query["page_token"]), fingerprint)
            page = offset // size + 1
        else:
            page = _positive_int(query.get("page", 1), "page")
            offset = (page - 1) * size
        selected = [r for r in self.store.snapshot(module.api_name) if predicate(r)]
        chunk = selected[offset : offset + size]
        more = offset + size < len(selected)
        next_token = None
        if more:
            next_token, _ = self.tokens.issue(
                fingerprint, offset + size, self.config.page_token_ttl_seconds
            )
        with self._lock:
            self._next_job += 1
            job_id = str(self._next_job)
        echo: dict[str, Any] = {
            "module": {"api_name": module.api_name, "id": stable_id(f"module.{module.api_name}")},
            "page": page,
        }
        if query.get("fields"):
            echo["fields"] = list(query["fields"])
        if query.get("criteria"):
            echo["criteria"] = query["criteria"]
        job = BulkJob(
            id=job_id,
            module=module,
            columns=columns,
            query=echo,
            records=chunk,
            page=page,
            count=len(chunk),
            more_records=more,
            next_page_token=next_token,
            created_at=time.time(),
            fails=self.faults.bulk_job_fails(),
        )
        with self._lock:
            self._jobs[job_id] = job
        threading.Thread(
            target=self._render, args=(job,), name=f"bulk-read-{job_id}", daemon=True
        ).start()
        details = {
            "id": job_id,
            "operation": "read",
            "state": "ADDED",
            "created_by": {"id": API_USER["id"], "name": API_USER["name"]},
            "created_time": render(int(job.created_at), self.config.timezone),
        }
        return Response(
            201,
            {
                "data": [
                    {
                        "status": "success",
                        "code": "ADDED_SUCCESSFULLY",
                        "message": "Added successfully.",
                        "details": details,
                    }
                ],
                "info": {},
            },
            credits=self.config.bulk_job_credits,
        )

    def status(self, request: Request, job_id: str) -> Response:
        """Answer ``GET /crm/bulk/v8/read/{job_id}``."""
        job = self._job(job_id)
        state = self._state(job)
        entry: dict[str, Any] = {
            "id": job.id,
            "operation": "read",
            "state": state,
            "query": job.query,
            "created_by": {"id": API_USER["id"], "name": API_USER["name"]},
            "created_time": render(int(job.created_at), self.config.timezone),
            "file_type": "csv",
        }
        if state == "COMPLETED":
            entry["result"] = {
                "page": job.page,
                "per_page": self.config.bulk_page_size,
                "count": job.count,
                "download_url": f"/crm/bulk/v8/read/{job.id}/result",
                "more_records": job.more_records,
                "next_page_token": job.next_page_token,
            }
        return Response(200, {"data": [entry]})

    def download(self, request: Request, job_id: str) -> Response:
        """Answer ``GET /crm/bulk/v8/read/{job_id}/result`` with the zipped CSV."""
        job = self._job(job_id)
        state = self._state(job)
        if state != "COMPLETED":
            raise ZohoError(
                400,
                "INVALID_REQUEST",
                f"the job is {state}; only a COMPLETED job can be downloaded",
                {"state": state},
            )
        finished = job.created_at + self.config.bulk_job_seconds
        if time.time() > finished + self.config.bulk_result_ttl_seconds:
            raise ZohoError(
                400, "EXPIRED_VALUE", "the download URL has expired", {"job_id": job.id}
            )
        now = time.time()
        with self._lock:
            while self._downloads and self._downloads[0] < now - 60:
                self._downloads.popleft()
            if len(self._downloads) >= self.config.bulk_downloads_per_minute:
                raise too_many_requests()
            self._downloads.append(now)
        assert job.result is not None
        return Response(
            200,
            raw=job.result,
            content_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{job.id}.zip"'},
        )

    # --- Job life cycle -------------------------------------------------------------

    def _job(self, job_id: str) -> BulkJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise invalid_data("no such bulk read job", param="job_id", value=job_id)
        return job

    def _state(self, job: BulkJob) -> str:
        """Return the job's state from the time passed since creation (and rendering)."""
        elapsed = time.time() - job.created_at
        duration = self.config.bulk_job_seconds
        if elapsed < duration * 0.2:
            return "ADDED"
        if elapsed < duration * 0.4:
            return "QUEUED"
        if elapsed < duration or not job.done.is_set():
            return "IN PROGRESS"
        return "FAILURE" if job.fails else "COMPLETED"

    def _render(self, job: BulkJob) -> None:
        """Render the job's CSV into a zip (background thread)."""
        try:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            module = job.module
            # The record keys of analytic value come as $ columns after the asked fields: a
            # parent lookup's module, the record state, and the currency symbol.
            extra = ["$state", "$approval_state"]
            if any(column in PARENT_FIELDS for column in job.columns):
                extra.append("$se_module")
            currency = any(f.data_type == "currency" for f in module.fields)
            if currency:
                extra.append("$currency_symbol")
            writer.writerow(["Id", *job.columns, *extra])
            cells = [self._cell(module, column) for column in job.columns]
            fixed = {"$state": "save", "$approval_state": "approved", "$currency_symbol": "$"}
            for record in job.records:
                values = self.store.values(module, record)
                row = [record.id, *(cell(values) for cell in cells)]
                row.extend(values.get(key) or fixed.get(key, "") for key in extra)
                writer.writerow(row)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
                archive.writestr(f"{job.id}.csv", text.getvalue())
            job.result = buffer.getvalue()
        except Exception:  # a broken export is a FAILURE, as in Zoho, not a crashed thread
            job.fails = True
        finally:
            job.records = []
            job.done.set()

    # --- Query parsing --------------------------------------------------------------

    def _module(self, query: dict[str, Any]) -> ModuleDef:
        module = query.get("module")
        name = module.get("api_name") if isinstance(module, dict) else module
        if not isinstance(name, str) or not name:
            raise required_param_missing("module")
        found = self.store.module(name)
        if found.api_name in NOT_IN_BULK_READ:
            raise ZohoError(
                400,
                "NOT_SUPPORTED",
                f"the module {found.api_name} is not supported in Bulk Read",
                {"api_name": "module"},
            )
        return found

    def _columns(self, module: ModuleDef, fields: Any) -> list[str]:
        """Return the CSV columns after Id, checking every (related) field exists."""
        if fields is None:
            return [f.api_name for f in module.fields]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise invalid_data("fields must be a list of API names", param="fields")
        columns = []
        for name in fields:
            if name in ("id", "Id"):
                continue
            self._resolve(module, name)
            if name not in columns:
                columns.append(name)
        return columns

    def _resolve(self, module: ModuleDef, name: str) -> tuple[FieldDef, str | None]:
        """Return a column's field and its related field (``Lookup.Field``), or fail."""
        base, _, related = name.partition(".")
        f = module.by_name.get(base)
        if f is None or (related and f.data_type not in ("lookup", "ownerlookup")):
            raise invalid_data("invalid field", api_name=name, param="fields")
        if related and f.data_type == "lookup":
            target = find_module(f.lookup or "")
            if target is None or (related != "id" and related not in target.by_name):
                raise invalid_data("invalid field", api_name=name, param="fields")
        if related and f.data_type == "ownerlookup" and related not in _USER_FIELDS:
            raise invalid_data("invalid field", api_name=name, param="fields")
        return f, related or None

    def _cell(self, module: ModuleDef, column: str) -> Callable[[dict[str, Any]], str]:
        """Return a function rendering one column of a record as Zoho's CSV does."""
        f, related = self._resolve(module, column)
        name = f.api_name
        if related is None:
            return lambda values: _csv_value(values.get(name))
        if f.data_type == "ownerlookup":
            pick = _USER_FIELDS[related]
            return lambda values: _csv_value(pick(values.get(name)))
        target = find_module(f.lookup or "")
        assert target is not None

        def related_value(values: dict[str, Any]) -> str:
            lookup = values.get(name)
            if not lookup:
                return ""
            if related == "id":
                return str(lookup["id"])
            if related == target.display_field:
                return str(lookup["name"])
            record = self.store.find(target.api_name, lookup["id"])
            if record is None:
                return ""
            return _csv_value(self.store.values(target, record).get(related))

        return related_value

    def _getter(self, module: ModuleDef, name: str) -> tuple[Getter, Callable[[Any], Any]]:
        """Return how to read a field for criteria, and how to convert criteria values."""
        if name in _TIME_FIELDS:
            attribute = _TIME_FIELDS[name]
            return (lambda record: getattr(record, attribute)), instant
        if name in ("id", "Id"):
            return (lambda record: int(record.id)), int
        if name == "Converted__s" and name in module.by_name:
            return (lambda record: record.converted_at is not None), boolean
        f, related = self._resolve(module, name)
        store = self.store

        def read(record: Record) -> Any:
            value = store.values(module, record).get(f.api_name)
            if isinstance(value, dict):
                value = value.get(related or "id") if related != "name" else value.get("name")
            return value

        if f.data_type == "datetime":
            return (lambda record: maybe_instant(read(record))), instant
        if f.data_type == "boolean":
            return read, boolean
        if f.resolved_json_type in ("integer", "double"):
            return read, float
        return read, str


_USER_FIELDS: dict[str, Callable[[Any], Any]] = {
    "id": lambda user: user and user["id"],
    "name": lambda user: user and user["name"],
    "email": lambda user: user and user["email"],
    "first_name": lambda user: user and user["name"].split(" ", 1)[0],
    "last_name": lambda user: user and user["name"].split(" ", 1)[-1],
}


def _csv_value(value: Any) -> str:
    """Render a value as Zoho's export does."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value.get("id", ""))
    if isinstance(value, list):
        return ";".join(str(v.get("name", "")) if isinstance(v, dict) else str(v) for v in value)
    return str(value)


def _positive_int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid_data(f"invalid {name}", param=name) from None
    if number < 1:
        raise invalid_data(f"invalid {name}", param=name)
    return number
