"""``tap-zohocrm auth``: a Self Client grant code -> a verified refresh token, without curl.

The grant code of a Self Client lives a few minutes and works once, against the accounts
server of the org's data centre: the step where new users get stuck. This command exchanges
it (``grant_type=authorization_code``), verifies the token with one cheap call (the current
user), and prints the settings, or writes them to ``.env`` (mode 0600) with ``--write-env``.
The client secret is never echoed; with ``--write-env`` no secret appears in any output.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import typing as t
from pathlib import Path

import click
import requests

from tap_zohocrm import hosts
from tap_zohocrm.errors import ZohoAuthError, ZohoError, describe_zoho_error

__all__ = ["auth_command", "exchange_grant_code", "verify_token", "write_env"]

SCOPES = (
    "ZohoCRM.modules.READ,ZohoCRM.settings.fields.READ,ZohoCRM.settings.modules.READ,"
    "ZohoCRM.users.READ,ZohoCRM.org.READ,ZohoCRM.bulk.READ"
)
_HINT_KEYS = ("accounts-server", "accounts_server", "location")


def _likely_data_center(body: t.Mapping[str, t.Any]) -> str | None:
    """A data centre the accounts server's answer points to, if it names one."""
    for key in _HINT_KEYS:
        value = str(body.get(key) or "").lower().rstrip("/")
        for dc in hosts.DATA_CENTERS.values():
            if value and (value == dc.code or value == hosts.accounts_url_for(dc.code)):
                return dc.code
    return None


def exchange_grant_code(
    accounts_url: str, client_id: str, client_secret: str, code: str, data_center: str
) -> dict[str, t.Any]:
    """Exchange a grant code for tokens (one POST; never follows a redirect).

    Returns:
        The token answer (``access_token``, ``refresh_token``, ``api_domain``, ...).

    Raises:
        ZohoAuthError: One sentence for an expired or used code, a wrong data centre, ...
    """
    where = f"Zoho's accounts server {accounts_url}"
    try:
        response = requests.post(
            accounts_url.rstrip("/") + hosts.TOKEN_PATH,
            data={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "client_secret": client_secret,
                "code": code,
            },
            timeout=60,
            allow_redirects=False,
        )
    except (requests.ConnectionError, requests.Timeout) as ex:
        msg = (
            f"Could not reach {where} ({type(ex).__name__}); check data_center, the network "
            "or the proxy."
        )
        raise ZohoAuthError(msg) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    error = body.get("error")
    if error == "invalid_code":
        msg = (
            f"{where} rejected the grant code (invalid_code): a grant code lives a few minutes "
            "and works once, so generate a new one (API console > Self Client > Generate "
            "Code) and run tap-zohocrm auth again at once."
        )
        raise ZohoAuthError(msg)
    if error == "invalid_client":
        likely = _likely_data_center(body)
        hint = (
            f"your client belongs to data centre '{likely}', so run again with "
            f"--data-center {likely}"
            if likely and likely != data_center
            else "set --data-center to where the Self Client was made (api-console.zoho.eu "
            "-> eu, .in -> in, .com.au -> au, ...), else check the client id and secret"
        )
        msg = (
            f"{where} does not know this client (invalid_client) with data_center "
            f"'{data_center}': {hint}."
        )
        raise ZohoAuthError(msg)
    if error or response.status_code != 200 or not body.get("access_token"):
        detail = f"error '{error}'" if error else f"HTTP {response.status_code}"
        msg = f"{where} refused the grant code ({detail})."
        raise ZohoAuthError(msg)
    if not body.get("refresh_token"):
        msg = (
            f"{where} issued no refresh token for this grant code; generate the code from a "
            "Self Client (which grants offline access) and run tap-zohocrm auth again."
        )
        raise ZohoAuthError(msg)
    return body


def verify_token(api_domain: str, access_token: str) -> dict[str, t.Any]:
    """One cheap call with the new token: the current user (1 credit).

    Raises:
        ZohoAuthError: The token cannot read the CRM (a missing scope, another data centre).
    """
    try:
        response = requests.get(
            f"{api_domain.rstrip('/')}/crm/v8/users",
            params={"type": "CurrentUser"},
            headers={"Authorization": f"Zoho-oauthtoken {access_token}"},
            timeout=60,
            allow_redirects=False,
        )
    except (requests.ConnectionError, requests.Timeout) as ex:
        msg = f"Could not reach Zoho CRM at {api_domain} to verify the token ({type(ex).__name__})."
        raise ZohoAuthError(msg) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict) and body.get("users"):
        return dict(body["users"][0])
    code, message, _ = describe_zoho_error(body)
    if code == "OAUTH_SCOPE_MISMATCH":
        msg = (
            f"The new token lacks a scope the tap needs ({message}); generate a new grant code "
            f"with the scopes {SCOPES} and run tap-zohocrm auth again."
        )
        raise ZohoAuthError(msg)
    msg = (
        f"Zoho CRM at {api_domain} refused the new token (HTTP {response.status_code} "
        f"{code or ''}: {message or 'no message'}); check data_center and environment."
    )
    raise ZohoAuthError(msg)


def write_env(path: Path, values: t.Mapping[str, str]) -> None:
    """Set ``values`` in a dotenv file (other lines kept), readable by its owner only."""
    lines: list[str] = []
    if path.exists():
        lines = [
            line
            for line in path.read_text().splitlines()
            if line.split("=", 1)[0].strip() not in values
        ]
    lines += [
        f"{key}={json.dumps(value) if ' ' in value else value}" for key, value in values.items()
    ]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    path.chmod(0o600)


def _config_defaults(config_path: str | None) -> dict[str, t.Any]:
    values: dict[str, t.Any] = {}
    if config_path:
        with contextlib.suppress(OSError, ValueError):
            values.update(json.loads(Path(config_path).read_text()))
    for key in ("data_center", "client_id", "client_secret", "accounts_url", "environment"):
        env = os.environ.get(f"TAP_ZOHOCRM_{key.upper()}")
        if env and not values.get(key):
            values[key] = env
    return values


@click.command(name="auth")
@click.option("--data-center", help="us, eu, in, au, jp, ca, cn, sa or uk (where the org lives)")
@click.option("--client-id", help="the Self Client's client id")
@click.option("--client-secret", help="the Self Client's client secret (asked, hidden, if absent)")
@click.option("--code", help="the grant code (Self Client > Generate Code)")
@click.option("--accounts-url", help="another accounts server (the bundled emulator)")
@click.option(
    "--write-env",
    "env_file",
    is_flag=False,
    flag_value=".env",
    default=None,
    help="write the settings to this dotenv file (default .env) with mode 0600",
)
@click.option("--config", "config_path", help="a tap config file to take defaults from")
def auth_command(**options: t.Any) -> None:
    """Exchange a Self Client grant code for a verified refresh token and print the settings."""
    defaults = _config_defaults(options.get("config_path"))
    interactive = sys.stdin.isatty()

    def value(name: str, prompt: str, *, hidden: bool = False) -> str:
        given = options.get(name) or defaults.get(name)
        if given:
            return str(given)
        if not interactive:
            flag = "--" + name.replace("_", "-")
            msg = f"The {name} is missing: pass {flag} (or run tap-zohocrm auth in a terminal)."
            raise ZohoAuthError(msg)
        return str(click.prompt(prompt, hide_input=hidden))

    try:
        data_center = value("data_center", "Data centre (us, eu, in, au, jp, ca, cn, sa, uk)")
        data_center = data_center.strip().lower()
        if data_center not in hosts.DATA_CENTERS:
            valid = ", ".join(hosts.DATA_CENTERS)
            raise ZohoAuthError(f"The data centre '{data_center}' is not one of {valid}.")
        client_id = value("client_id", "Client id")
        client_secret = value("client_secret", "Client secret", hidden=True)
        code = value("code", "Grant code", hidden=True)
        override = options.get("accounts_url") or defaults.get("accounts_url")
        accounts_url = hosts.accounts_url_for(data_center, override)
        tokens = exchange_grant_code(accounts_url, client_id, client_secret, code, data_center)
        api_domain = str(tokens.get("api_domain") or hosts.api_domain_for(data_center))
        trusted = (accounts_url,) if override else ()
        if not hosts.is_trusted_api_domain(api_domain, trusted):
            msg = f"{accounts_url} named {api_domain} as the API domain, which is not Zoho's."
            raise ZohoAuthError(msg)
        user = verify_token(api_domain, str(tokens["access_token"]))
    except ZohoError as ex:
        click.echo(f"tap-zohocrm auth: error: {ex.sentence}", err=True)
        sys.exit(1)
    settings = {
        "TAP_ZOHOCRM_DATA_CENTER": data_center,
        "TAP_ZOHOCRM_CLIENT_ID": client_id,
        "TAP_ZOHOCRM_CLIENT_SECRET": client_secret,
        "TAP_ZOHOCRM_REFRESH_TOKEN": str(tokens["refresh_token"]),
    }
    if override:
        settings["TAP_ZOHOCRM_ACCOUNTS_URL"] = accounts_url
    who = user.get("full_name") or user.get("id")
    click.echo(f"Verified: the new token reads Zoho CRM at {api_domain} as {who}.", err=True)
    env_file = options.get("env_file")
    if env_file:
        write_env(Path(env_file), settings)
        click.echo(f"Wrote {', '.join(settings)} to {env_file} (mode 0600).", err=True)
        return
    for key, item in settings.items():
        shown = "<the client secret you entered>" if key.endswith("CLIENT_SECRET") else item
        click.echo(f"{key}={shown}")


def dispatch(argv: list[str]) -> list[str] | None:
    """The auth command's arguments if ``argv`` asks for it (also after ``--config FILE``)."""
    if argv[:1] == ["auth"]:
        return argv[1:]
    if len(argv) >= 3 and argv[0] == "--config" and argv[2] == "auth":
        return ["--config", argv[1], *argv[3:]]
    return None
