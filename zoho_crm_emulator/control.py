"""The emulator's own control endpoints under ``/_emulator`` (not part of Zoho's API).

They expose the Python API over HTTP so that a tap running in another process (Meltano,
the CLI, a benchmark) can be observed and steered: stats, mutations, faults, ground truth.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

from zoho_crm_emulator.errors import ZohoError, invalid_data, invalid_url
from zoho_crm_emulator.messages import Request, Response

if TYPE_CHECKING:
    from collections.abc import Sequence


class Controlled(Protocol):
    """What the control API drives (``Emulator`` is one)."""

    def stats(self) -> dict[str, Any]:
        """Call counts and credits."""
        ...

    def reset_stats(self) -> None:
        """Zero the counters."""
        ...

    def faults_settings(self) -> dict[str, Any]:
        """The fault settings."""
        ...

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault settings."""
        ...

    def records(self, module: str) -> list[dict[str, Any]]:
        """A module's live records."""
        ...

    def deleted(self, module: str) -> list[dict[str, Any]]:
        """A module's recycle bin."""
        ...

    def mutate(
        self,
        action: str,
        *,
        module: str = "Leads",
        count: int = 1,
        ids: Sequence[str] | None = None,
        **kw: Any,
    ) -> list[str]:
        """Change the org."""
        ...


PREFIX = "/_emulator"
_GROUND_TRUTH = re.compile(r"^/_emulator/(records|deleted)/([A-Za-z0-9_]+)/?$")


class ControlApi:
    """Routes ``/_emulator/...`` requests to an ``Emulator``'s Python API.

    Args:
        emulator: The emulator to steer.
    """

    def __init__(self, emulator: Controlled) -> None:
        self.emulator = emulator

    def handle(self, request: Request) -> Response:
        """Answer one control request; bad input is a Zoho-shaped 400."""
        emu = self.emulator
        route = (request.method, request.path.rstrip("/"))
        if route == ("GET", f"{PREFIX}/health"):
            return Response(200, {"status": "ok"})
        if route == ("GET", f"{PREFIX}/stats"):
            return Response(200, emu.stats())
        if route == ("POST", f"{PREFIX}/stats/reset"):
            emu.reset_stats()
            return Response(200, emu.stats())
        if route == ("POST", f"{PREFIX}/mutate"):
            return self._mutate(request)
        if route == ("GET", f"{PREFIX}/faults"):
            return Response(200, emu.faults_settings())
        if route == ("POST", f"{PREFIX}/faults"):
            try:
                return Response(200, emu.set_faults(**_json(request)))
            except (TypeError, ValueError) as exc:
                raise invalid_data(str(exc)) from None
        match = _GROUND_TRUTH.match(request.path)
        if match and request.method == "GET":
            kind, module = match.groups()
            if kind == "records":
                return Response(200, {"data": emu.records(module)})
            return Response(200, {"data": emu.deleted(module)})
        raise invalid_url(request.path)

    def _mutate(self, request: Request) -> Response:
        body = _json(request)
        action = body.pop("action", None)
        if not isinstance(action, str):
            raise invalid_data("action is required", param="action")
        module = body.pop("module", None) or "Leads"
        count = body.pop("count", None)
        ids = body.pop("ids", None)
        if isinstance(ids, str):
            ids = [i for i in ids.split(",") if i]
        try:
            changed = self.emulator.mutate(
                action, module=module, count=1 if count is None else int(count), ids=ids, **body
            )
        except (TypeError, ValueError) as exc:
            raise invalid_data(str(exc), param="action") from None
        return Response(200, {"ids": changed})


def _json(request: Request) -> dict[str, Any]:
    """Return the JSON body, or a Zoho-shaped 400 when it is not a JSON object."""
    try:
        return request.json()
    except ValueError:
        raise ZohoError(400, "INVALID_REQUEST", "the body must be a JSON object") from None
