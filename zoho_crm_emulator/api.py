"""The Zoho CRM REST endpoints: Get Records, record count, deleted records, settings.

Each handler validates parameters in the order and with the error codes Zoho uses, then
reads the store. Authentication, faults and counting happen in the server before a handler
runs, so handlers only describe the API's own rules.
"""

from __future__ import annotations

from collections.abc import Mapping

from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.data import API_USER, TAGS
from zoho_crm_emulator.errors import ZohoError, invalid_data, required_param_missing
from zoho_crm_emulator.messages import Request, Response
from zoho_crm_emulator.metadata import REFUSING_MODULES, listed_modules
from zoho_crm_emulator.paging import PageTokens, bind
from zoho_crm_emulator.store import Store
from zoho_crm_emulator.subforms import SUBFORMS
from zoho_crm_emulator.timeutil import parse_iso, render

MAX_FIELDS = 50
MAX_PER_PAGE = 200
MAX_IDS = 100
SORT_FIELDS = ("id", "Created_Time", "Modified_Time")


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """Parse an integer parameter within bounds, else 400 INVALID_DATA."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_data(f"invalid value for {name}", param=name) from None
    if not low <= value <= high:
        raise invalid_data(
            f"{name} must be between {low} and {high}", param=name, minimum=low, maximum=high
        )
    return value


def _if_modified_since(request: Request) -> tuple[str | None, int | None]:
    """Return the raw If-Modified-Since header and its instant (epoch seconds)."""
    raw = request.headers.get("if-modified-since")
    if raw is None or not raw.strip():
        return None, None
    return raw.strip(), parse_iso(raw)


def _refuse(module: str) -> None:
    """Answer a refusing module (see ``REFUSING_MODULES``) the way Zoho does."""
    code = next((c for name, c in REFUSING_MODULES.items() if name.lower() == module.lower()), None)
    if code == "NO_PERMISSION":
        raise ZohoError(403, "NO_PERMISSION", "permission denied", {"module": module})
    if code is not None:
        raise ZohoError(
            400,
            "INVALID_MODULE",
            "the module name given seems to be invalid",
            {"resource_path_index": 0, "module": module},
        )


#: Zoho's credit table: a deleted-records call costs 2 credits (Get Records 1).
DELETED_CREDITS = 2


class ZohoApi:
    """Handlers of the Zoho endpoints, bound to one store and config.

    Args:
        store: The org's records.
        config: The live config (paging limits, time zone).
    """

    def __init__(self, store: Store, config: EmulatorConfig) -> None:
        self.store = store
        self.config = config
        self.tokens = PageTokens()

    def records(self, request: Request, module: str) -> Response:
        """Answer ``GET /crm/v8/{Module}`` (Get Records)."""
        params = request.params
        _refuse(module)
        definition = self.store.module(module)
        raw_fields = params.get("fields")
        if raw_fields is None or not raw_fields.strip():
            raise required_param_missing("fields")
        fields = list(dict.fromkeys(f.strip() for f in raw_fields.split(",") if f.strip()))
        if len(fields) > MAX_FIELDS:
            raise ZohoError(
                400,
                "LIMIT_EXCEEDED",
                f"the number of fields exceeds the limit of {MAX_FIELDS}",
                {"param": "fields", "limit": MAX_FIELDS},
            )
        for name in fields:
            if name != "id" and name not in definition.by_name:
                raise invalid_data("invalid field", api_name=name, param="fields")
        per_page = _int_param(params, "per_page", MAX_PER_PAGE, 1, MAX_PER_PAGE)
        sort_by = params.get("sort_by") or "id"
        if sort_by not in SORT_FIELDS:
            raise invalid_data("invalid sort_by", param="sort_by", supported=list(SORT_FIELDS))
        sort_order = params.get("sort_order") or "desc"
        if sort_order not in ("asc", "desc"):
            raise invalid_data("invalid sort_order", param="sort_order")
        converted = params.get("converted") or "false"
        if converted not in ("true", "false", "both"):
            raise invalid_data("invalid converted", param="converted")
        ids: tuple[str, ...] | None = None
        if params.get("ids"):
            ids = tuple(i.strip() for i in params["ids"].split(",") if i.strip())
            if len(ids) > MAX_IDS:
                raise ZohoError(
                    400, "LIMIT_EXCEEDED", "too many ids", {"param": "ids", "limit": MAX_IDS}
                )
        raw_since, since = _if_modified_since(request)
        page_token = params.get("page_token")
        if page_token is not None and params.get("page") is not None:
            raise ZohoError(
                400,
                "AMBIGUITY_DURING_PROCESSING",
                "page and page_token cannot be given together",
                {"ambiguity_due_to": ["page", "page_token"]},
            )
        fingerprint = bind(definition.api_name, params, raw_since)
        config = self.config
        if page_token is not None:
            offset = self.tokens.offset(page_token, fingerprint)
            if offset >= config.page_token_cap:
                raise ZohoError(
                    400,
                    "PAGINATION_LIMIT_EXCEEDED",
                    f"page_token reaches at most {config.page_token_cap} records; "
                    "start a new query",
                    {"param": "page_token", "limit": config.page_token_cap},
                )
            limit = config.page_token_cap
            page = offset // per_page + 1
        else:
            page = _int_param(params, "page", 1, 1, 10**9)
            offset = (page - 1) * per_page
            if offset >= config.discrete_page_limit:
                raise ZohoError(
                    400,
                    "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                    f"the page parameter reaches only the first {config.discrete_page_limit} "
                    "records; use page_token",
                    {"param": "page", "limit": config.discrete_page_limit},
                )
            limit = config.discrete_page_limit
        with self.store.lock:
            rows = self.store.query(
                definition.api_name,
                sort_by=sort_by,
                sort_order=sort_order,
                converted=converted,
                since=since,
                ids=ids,
            )
            if not rows:
                return Response(304 if since is not None else 204)
            if offset >= len(rows):
                return Response(204)
            end = min(offset + per_page, len(rows), limit)
            data = [self.store.render(definition, r, fields) for r in rows[offset:end]]
            more = end < len(rows)
        next_token = expiry_text = previous = None
        ttl = config.page_token_ttl_seconds
        if more:
            # token_cycle: a broken chain whose third page is the first again, forever.
            target = 0 if config.token_cycle and end >= 2 * per_page else end
            next_token, expiry = self.tokens.issue(fingerprint, target, ttl)
            expiry_text = render(int(expiry), config.timezone)
        if offset > 0:
            previous, _ = self.tokens.issue(fingerprint, max(0, offset - per_page), ttl)
        info = {
            "per_page": per_page,
            "count": len(data),
            "page": page,
            "sort_by": sort_by,
            "sort_order": sort_order,
            "more_records": more,
            "next_page_token": next_token,
            "previous_page_token": previous,
            "page_token_expiry": expiry_text,
        }
        return Response(200, {"data": data, "info": info})

    def count(self, request: Request, module: str) -> Response:
        """Answer ``GET /crm/v8/{Module}/actions/count`` (Get Record Count).

        Counts every live record of the module, converted leads included: a cheap size
        estimate (one credit) for clients that choose between Get Records and Bulk Read.
        """
        definition = self.store.module(module)
        with self.store.lock:
            count = len(self.store.query(definition.api_name, converted="both"))
        return Response(200, {"count": count})

    def deleted(self, request: Request, module: str) -> Response:
        """Answer ``GET /crm/v8/{Module}/deleted``."""
        params = request.params
        definition = self.store.module(module)
        kind = params.get("type") or "all"
        if kind not in ("all", "recycle", "permanent"):
            raise invalid_data(
                "invalid type", param="type", supported=["all", "recycle", "permanent"]
            )
        per_page = _int_param(params, "per_page", MAX_PER_PAGE, 1, MAX_PER_PAGE)
        page = _int_param(params, "page", 1, 1, 10**9)
        _, since = _if_modified_since(request)
        entries = self.store.deleted(definition.api_name, kind=kind, since=since)
        offset = (page - 1) * per_page
        if self.config.deleted_loop and entries:
            offset = 0  # a broken listing: the first page again, always "more"
        elif offset >= len(entries):
            return Response(204, credits=DELETED_CREDITS)
        chunk = entries[offset : offset + per_page]
        return Response(
            200,
            {
                "data": [self.store.render_deletion(d) for d in chunk],
                "info": {
                    "per_page": per_page,
                    "count": len(chunk),
                    "page": page,
                    "more_records": self.config.deleted_loop or offset + per_page < len(entries),
                },
            },
            credits=DELETED_CREDITS,
        )

    def settings_modules(self, request: Request) -> Response:
        """Answer ``GET /crm/v8/settings/modules``."""
        modules = listed_modules()
        return Response(200, {"modules": [m.to_api(n + 1) for n, m in enumerate(modules)]})

    def settings_module(self, request: Request, name: str) -> Response:
        """Answer ``GET /crm/v8/settings/modules/{api_name}``: one module, with more detail."""
        modules = listed_modules()
        found = next(
            ((n, m) for n, m in enumerate(modules) if m.api_name.lower() == name.lower()), None
        )
        if found is None:
            raise ZohoError(400, "INVALID_MODULE", "the module name given seems to be invalid",
                            {"api_name": name})  # fmt: skip
        sequence, definition = found
        body = definition.to_api(sequence + 1)
        body["display_field"] = {"api_name": definition.display_field}
        related = [{"api_name": "Stage_History", "module": None}] if name == "Deals" else []
        body["related_lists"] = related
        return Response(200, {"modules": [body]})

    def settings_fields(self, request: Request) -> Response:
        """Answer ``GET /crm/v8/settings/fields?module=``."""
        module = request.params.get("module")
        if not module:
            raise required_param_missing("module")
        definition = SUBFORMS.get(module) or self.store.module(module)
        return Response(200, {"fields": [f.to_api(definition.api_name) for f in definition.fields]})

    def settings_tags(self, request: Request) -> Response:
        """Answer ``GET /crm/v8/settings/tags?module=`` with the org's tags (name and id)."""
        module = request.params.get("module")
        if not module:
            raise required_param_missing("module")
        self.store.module(module)
        creator = {"name": API_USER["name"], "id": API_USER["id"]}
        created = render(parse_iso(self.config.start), self.config.timezone)
        tags = [
            {
                "name": tag["name"],
                "id": tag["id"],
                "color_code": None,
                "created_by": creator,
                "modified_by": creator,
                "created_time": created,
                "modified_time": created,
            }
            for tag in TAGS
        ]
        return Response(200, {"tags": tags, "info": {"count": len(tags), "allowed_count": 100}})
