"""The run's first token request, sent while the tap is still importing singer-sdk.

Why: a sync's first API call waits for an access token, and importing singer-sdk takes
about 0.3 s of CPU before the tap can ask for one. The console script starts the refresh-token
grant on a thread first (:func:`start`), from the ``--config`` files as given, so its latency
passes during the imports. The authenticator then takes the answer (:func:`take`) in place of
its first attempt, but only when it would have sent exactly that request (the same accounts
server, form and headers): the host comes from the same table (``hosts.accounts_url_for``), so
credentials go nowhere they would not have gone, and the answer goes through the same checks,
retries and sentences as its own. Settings the tap would refuse send nothing: the thread
first checks them as the tap does (its settings schema, stored as ``settings_schema.json`` by
``scripts/plugin_definitions.py``, the refresh token, ``start_date``). Anything unusual
(settings from the environment, the client-credentials login, a file that is not a JSON
object) sends nothing early either.

Nothing here imports singer-sdk: that is the point.
"""

from __future__ import annotations

import json
import threading
import time
import typing as t
from pathlib import Path

from tap_zohocrm import hosts
from tap_zohocrm.bookmarks import parse_instant

if t.TYPE_CHECKING:
    import requests

__all__ = [
    "EarlyToken",
    "acceptable",
    "default_user_agent",
    "refresh_grant",
    "start",
    "take",
    "token_headers",
]

SETTINGS_SCHEMA = "settings_schema.json"
_CREDENTIALS = ("client_id", "client_secret", "refresh_token")
#: Options after which the tap makes no API call at all.
_NO_CALLS = frozenset({"--about", "--help", "-h", "--version"})


def refresh_grant(
    client_id: str | None, client_secret: str | None, refresh_token: str | None
) -> dict:
    """The form of a refresh-token grant (sent as a POST body, never as a query)."""
    return {
        "refresh_token": refresh_token,
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "refresh_token",
    }


def default_user_agent() -> str:
    """``tap-zohocrm/<version>``."""
    from importlib import metadata

    try:
        version = metadata.version("tap-zohocrm")
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "0"
    return f"tap-zohocrm/{version}"


def token_headers(user_agent: str | None) -> dict[str, str]:
    """The headers of a token request."""
    headers = {"Accept": "application/json"}
    if user_agent:
        headers["User-Agent"] = user_agent
    return headers


class EarlyToken:
    """The refresh-token grant of some settings, checked and sent on a daemon thread.

    Args:
        config: The settings of the ``--config`` files.
        user_agent: The User-Agent when the settings name none (default: the tap's).
    """

    def __init__(self, config: dict[str, t.Any], user_agent: str | None = None) -> None:
        """Start the thread (see the class docstring)."""
        self.config = config
        self.user_agent = user_agent
        self.endpoint: str | None = None
        self.form: dict | None = None
        self.headers: dict[str, str] | None = None
        self.requested_at = 0.0
        self.response: requests.Response | None = None
        self._thread = threading.Thread(target=self._run, name="early-token", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Only ever an optimization: whatever goes wrong here, the authenticator asks itself
        # and the tap words the problem, so nothing may escape this thread.
        try:
            self._send()
        except Exception:  # see above
            self.response = None

    def _send(self) -> None:
        config = self.config
        if not acceptable(config):
            return  # the tap refuses these settings before any call: so does this thread
        data_center = str(config.get("data_center") or hosts.DEFAULT_DATA_CENTER).lower()
        accounts_url = config.get("accounts_url") or None
        endpoint = hosts.accounts_url_for(data_center, accounts_url) + hosts.TOKEN_PATH
        form = refresh_grant(config["client_id"], config["client_secret"], config["refresh_token"])
        agent = config.get("user_agent") or self.user_agent or default_user_agent()
        headers = token_headers(str(agent))
        timeout = config.get("request_timeout")
        import requests  # on this thread, while the main one imports singer-sdk

        self.endpoint, self.form, self.headers = endpoint, form, headers
        self.requested_at = time.monotonic()
        try:
            self.response = requests.post(
                endpoint,
                data=form,
                headers=headers,
                timeout=float(timeout) if isinstance(timeout, int) and timeout > 0 else 300.0,
                allow_redirects=False,  # as the authenticator: never re-send credentials
            )
        except requests.RequestException:
            self.response = None  # the authenticator asks again, with its retries

    def wait(self) -> EarlyToken:
        """Wait for the thread to end (checked, sent and answered, or given up)."""
        self._thread.join()
        return self

    def answer(
        self, endpoint: str, form: dict, headers: dict[str, str]
    ) -> requests.Response | None:
        """The answer, once it came, if it was for exactly this request."""
        self.wait()
        if (endpoint, form, headers) != (self.endpoint, self.form, self.headers):
            return None
        return self.response


_lock = threading.Lock()
_pending: EarlyToken | None = None


def start(argv: t.Sequence[str], user_agent: str | None = None) -> EarlyToken | None:
    """Send the refresh-token grant of the ``--config`` files in ``argv``, if there is one.

    Args:
        argv: The tap's command-line arguments.
        user_agent: The User-Agent when the config names none (default: the tap's).

    Returns:
        The request on its way (checked first on its thread), or None when nothing is sent.
    """
    global _pending
    if _NO_CALLS.intersection(argv):
        return None
    config = _config_files(argv)
    if config is None:
        return None
    if str(config.get("auth_method") or "refresh_token").lower() != "refresh_token":
        return None
    if not all(isinstance(config.get(k), str) and config[k] for k in _CREDENTIALS):
        return None  # the tap names what is missing
    early = EarlyToken(config, user_agent)
    with _lock:
        _pending = early
    return early


def take(
    endpoint: str, form: dict, headers: dict[str, str]
) -> tuple[float, requests.Response] | None:
    """The early answer to exactly this request, once (None: send it yourself).

    Returns:
        ``(time.monotonic() when it was sent, the response)``, or None.
    """
    global _pending
    with _lock:
        early, _pending = _pending, None
    if early is None:
        return None
    response = early.answer(endpoint, form, headers)
    return None if response is None else (early.requested_at, response)


def acceptable(config: t.Mapping[str, t.Any]) -> bool:
    """Whether the tap would accept these settings (as ``TapZohoCRM`` checks them)."""
    from tap_zohocrm.settings import describe_settings_errors

    try:
        schema = json.loads(Path(__file__).with_name(SETTINGS_SCHEMA).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not installed with the package: the tap checks later
        return False
    if describe_settings_errors(config, schema, "TAP_ZOHOCRM_") is not None:
        return False
    start_date = config.get("start_date")
    if start_date is not None and start_date != "":
        try:
            parse_instant(str(start_date))
        except (TypeError, ValueError):
            return False
    return True


def _config_files(argv: t.Sequence[str]) -> dict[str, t.Any] | None:
    """The merged ``--config`` files (later ones win), or None if any is not a JSON file."""
    merged: dict[str, t.Any] = {}
    found = False
    args = list(argv)
    for i, arg in enumerate(args):
        if arg.startswith("--config="):
            path: str | None = arg.partition("=")[2]
        elif arg == "--config" and i + 1 < len(args):
            path = args[i + 1]
        else:
            continue
        if not path or path == "ENV":  # settings from the environment: not early
            return None
        try:
            with open(path, encoding="utf-8") as handle:
                values = json.load(handle)
        except (OSError, ValueError):
            return None
        if not isinstance(values, dict):
            return None
        merged.update(values)
        found = True
    return merged if found else None
