"""HTTP plumbing: parse requests, route them, and always answer in Zoho's shape.

The dispatcher is the single place that authenticates, injects faults, counts calls and
credits, and turns any exception into a Zoho error body, so no handler can leak a stack
trace or forget to count a call.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

from zoho_crm_emulator import org, related
from zoho_crm_emulator.auth import BULK_SCOPES, COQL_SCOPES, record_scopes, settings_scopes
from zoho_crm_emulator.control import PREFIX, ControlApi, Controlled
from zoho_crm_emulator.coql_api import query_module
from zoho_crm_emulator.errors import ZohoError, daily_limit_reached, internal_error, invalid_url
from zoho_crm_emulator.messages import Request, Response
from zoho_crm_emulator.metadata import find_module

if TYPE_CHECKING:
    from zoho_crm_emulator.api import ZohoApi
    from zoho_crm_emulator.auth import TokenManager
    from zoho_crm_emulator.bulk import BulkRead
    from zoho_crm_emulator.churn import Churn
    from zoho_crm_emulator.config import EmulatorConfig
    from zoho_crm_emulator.coql_api import CoqlApi
    from zoho_crm_emulator.faults import FaultInjector
    from zoho_crm_emulator.stats import Stats
    from zoho_crm_emulator.store import Store


class Served(Controlled, Protocol):
    """What the dispatcher routes to (``Emulator`` is one): its parts and its control API."""

    config: EmulatorConfig
    store: Store
    counters: Stats
    tokens: TokenManager
    faults: FaultInjector
    api: ZohoApi
    coql: CoqlApi
    bulk: BulkRead
    churn: Churn


logger = logging.getLogger(__name__)

_API = "/crm/v8"
_RECORDS = re.compile(r"^/crm/v8/([A-Za-z0-9_]+)/?$")
_DELETED = re.compile(r"^/crm/v8/([A-Za-z0-9_]+)/deleted/?$")
_COUNT = re.compile(r"^/crm/v8/([A-Za-z0-9_]+)/actions/count/?$")
_SETTINGS_MODULE = re.compile(r"^/crm/v8/settings/modules/([A-Za-z0-9_]+)/?$")
_STAGES = re.compile(r"^/crm/v8/Deals/(\d+)/Stage_History/?$", re.IGNORECASE)
_TIMELINE = re.compile(r"^/crm/v8/([A-Za-z0-9_]+)/(\d+)/__timeline/?$")
_BULK = "/crm/bulk/v8/read"
_BULK_JOB = re.compile(r"^/crm/bulk/v8/read/([0-9]+)(/result)?/?$")
_TOKEN_PATH = "/oauth/v2/token"  # noqa: S105 - a path, not a secret


class Dispatcher:
    """Turns a ``Request`` into a ``Response`` for one emulator.

    Args:
        emulator: Supplies the store, tokens, faults, stats and API handlers.
    """

    def __init__(self, emulator: Served) -> None:
        self.emulator = emulator
        self.control = ControlApi(emulator)

    def handle(self, request: Request) -> Response:
        """Answer a request; never raises."""
        try:
            response = self._route(request)
        except ZohoError as exc:
            response = Response(exc.status, exc.body(), headers=dict(exc.headers))
        except Exception:
            logger.exception("internal error while answering %s %s", request.method, request.path)
            response = Response(500, internal_error().body())
        if not request.path.startswith(PREFIX):
            self.emulator.counters.count_status(response.status)
        return response

    def _route(self, request: Request) -> Response:
        path = request.path
        emu = self.emulator
        if path.startswith(PREFIX):
            return self.control.handle(request)
        if path.rstrip("/") == _TOKEN_PATH and request.method == "POST":
            emu.counters.count_call("oauth_token")
            started = request.arrived or time.monotonic()
            status, body = emu.tokens.grant(request.params, request.base_url)
            emu.faults.delay(since=started)
            return Response(status, body)
        if path.startswith("/crm/bulk/"):
            return self._bulk(request)
        if path.rstrip("/") == f"{_API}/coql" and request.method == "POST":
            module = _canonical(query_module(request))
            return self._api_call(
                request,
                f"coql:{module}",
                COQL_SCOPES,
                emu.coql.query,
                record_scopes(module),
                listing=True,
            )
        if request.method != "GET" or not path.startswith(_API + "/"):
            emu.counters.count_call("other")
            raise invalid_url(path)
        api = emu.api
        if path.rstrip("/") == f"{_API}/settings/modules":
            return self._api_call(
                request, "settings_modules", settings_scopes("modules"), api.settings_modules
            )
        match = _SETTINGS_MODULE.match(path)
        if match:
            name = match.group(1)
            return self._api_call(
                request,
                "settings_module",
                settings_scopes("modules"),
                lambda r: api.settings_module(r, name),
            )
        if path.rstrip("/") == f"{_API}/settings/fields":
            module = _canonical(request.params.get("module") or "")
            return self._api_call(
                request, f"settings_fields:{module}", settings_scopes("fields"), api.settings_fields
            )
        reference = org.REFERENCE.get(path.rstrip("/")[len(_API) :])
        if reference is not None:
            endpoint, scopes, handler = reference
            return self._api_call(request, endpoint, scopes, lambda r: handler(r, emu.config))
        if path.rstrip("/") == f"{_API}/settings/tags":
            module = _canonical(request.params.get("module") or "")
            return self._api_call(
                request, f"settings_tags:{module}", settings_scopes("tags"), api.settings_tags
            )
        match = _COUNT.match(path)
        if match:
            module = _canonical(match.group(1))
            return self._api_call(
                request,
                f"count:{module}",
                record_scopes(module),
                lambda r: api.count(r, module),
            )
        match = _STAGES.match(path)
        if match:
            deal_id = match.group(1)
            return self._api_call(
                request,
                "stage_history",
                record_scopes("Deals"),
                lambda r: related.stage_history(r, emu.store, deal_id),
            )
        match = _TIMELINE.match(path)
        if match:
            module, record_id = _canonical(match.group(1)), match.group(2)
            return self._api_call(
                request,
                f"timeline:{module}",
                record_scopes(module),
                lambda r: related.timeline(r, emu.store, module, record_id),
            )
        match = _DELETED.match(path)
        if match:
            module = _canonical(match.group(1))
            return self._api_call(
                request,
                f"deleted:{module}",
                record_scopes(module),
                lambda r: api.deleted(r, module),
                listing=True,
            )
        match = _RECORDS.match(path)
        if match and match.group(1) != "settings":
            module = _canonical(match.group(1))
            return self._api_call(
                request,
                f"records:{module}",
                record_scopes(module),
                lambda r: api.records(r, module),
                listing=True,
            )
        emu.counters.count_call("other")
        raise invalid_url(path)

    def _bulk(self, request: Request) -> Response:
        """Route the Bulk Read endpoints."""
        bulk = self.emulator.bulk
        path = request.path.rstrip("/")
        if path == _BULK and request.method == "POST":
            module = _canonical(_bulk_module(request))
            return self._api_call(
                request, "bulk_read_create", BULK_SCOPES, bulk.create, record_scopes(module)
            )
        match = _BULK_JOB.match(request.path)
        if match and request.method == "GET":
            job_id, result = match.groups()
            if result:
                return self._api_call(
                    request, "bulk_read_download", BULK_SCOPES, lambda r: bulk.download(r, job_id)
                )
            return self._api_call(
                request, "bulk_read_status", BULK_SCOPES, lambda r: bulk.status(r, job_id)
            )
        self.emulator.counters.count_call("other")
        raise invalid_url(request.path)

    def _api_call(
        self,
        request: Request,
        endpoint: str,
        scopes: list[str],
        handler: Callable[[Request], Response],
        more_scopes: list[str] | None = None,
        *,
        listing: bool = False,
    ) -> Response:
        """Run a Zoho API handler behind latency, auth, scopes, faults and credit counting."""
        emu = self.emulator
        emu.counters.count_call(endpoint)
        with emu.counters.in_flight(emu.config.max_concurrent_calls):
            started = request.arrived or time.monotonic()
            try:
                response = self._served(request, handler, scopes, more_scopes, listing=listing)
                response.raw = response.payload()  # encoded within the latency too
                return response
            finally:  # the answer, or the error, leaves once the latency has passed
                emu.counters.add_latency(emu.faults.delay(since=started))

    def _served(
        self,
        request: Request,
        handler: Callable[[Request], Response],
        scopes: list[str],
        more_scopes: list[str] | None,
        *,
        listing: bool,
    ) -> Response:
        emu = self.emulator
        token = emu.tokens.authenticate(request.headers.get("authorization"))
        emu.tokens.require(token, scopes)
        if more_scopes:
            emu.tokens.require(token, more_scopes)
        budget = emu.config.daily_credits
        if budget is not None and emu.counters.credits >= budget:
            raise daily_limit_reached()
        fault = emu.faults.draw()
        if fault is not None:
            raise fault
        response = handler(request)
        if listing and response.status == 200:
            response = emu.faults.draw_garbage(response) or response
        if response.status < 400:
            emu.counters.spend(response.credits)
            if budget is not None:
                left = max(0, budget - emu.counters.credits)
                if left <= budget // 2:  # Zoho shows it once half the budget is used
                    response.headers["X-API-CREDITS-REMAINING"] = str(left)
        emu.churn.after_call()
        return response


def _bulk_module(request: Request) -> str:
    """Return the module a Bulk Read create request names, for its scope check ("" if none)."""
    try:
        module = request.json().get("query", {}).get("module", {})
    except (ValueError, AttributeError):
        return ""
    name = module.get("api_name") if isinstance(module, dict) else module
    return name if isinstance(name, str) else ""


def _canonical(module: str) -> str:
    """Return a module's canonical API name for stats keys (the raw name if unknown)."""
    definition = find_module(module)
    return definition.api_name if definition else module


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that can drop its keep-alive connections on shutdown.

    Without that, a client's pooled connection would keep talking to a handler thread of
    an emulator that the test already stopped.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher, *, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.dispatcher = dispatcher
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        """Remember or forget an open client connection."""
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Parses HTTP/1.1 requests (keep-alive) into ``Request`` and writes ``Response``."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm and the client's
    # delayed ACKs every keep-alive response would then stall for ~40 ms.
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer
    server_version = "ZohoCRMEmulator/0.1"
    arrived: float | None = None

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def parse_request(self) -> bool:
        """Note when the request came (its latency runs from then), then parse it."""
        self.arrived = time.monotonic()
        return super().parse_request()

    def do_GET(self) -> None:
        """Handle GET."""
        self._handle()

    def do_POST(self) -> None:
        """Handle POST."""
        self._handle()

    def do_PUT(self) -> None:
        """Handle PUT (answered with Zoho's error shape)."""
        self._handle()

    def do_DELETE(self) -> None:
        """Handle DELETE (answered with Zoho's error shape)."""
        self._handle()

    def do_PATCH(self) -> None:
        """Handle PATCH (answered with Zoho's error shape)."""
        self._handle()

    def _handle(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            for key, values in form.items():
                params.setdefault(key, values[0])
        host = headers.get("host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(
            method=self.command,
            path=split.path,
            params=params,
            headers=headers,
            body=body,
            base_url=f"http://{host}",
            arrived=self.arrived,
        )
        response = self.server.dispatcher.handle(request)
        payload = response.payload()
        try:
            self.send_response(response.status)
            if response.status not in (204, 304):
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if payload and response.status not in (204, 304):
                self.wfile.write(payload)
        except (ConnectionError, OSError):
            self.close_connection = True

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header by the org's clock, which never runs behind its newest write."""
        if timestamp is None:
            timestamp = self.server.dispatcher.emulator.store.clock()
        return email.utils.formatdate(timestamp, usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Log requests only when the server is verbose (benchmarks want silence)."""
        if self.server.verbose:
            super().log_message(format, *args)
