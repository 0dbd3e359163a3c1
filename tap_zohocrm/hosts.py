"""Zoho data centres and environments -> accounts servers and API hosts.

Zoho runs nine isolated data centres. A refresh token is bound to the accounts server of the
data centre where the org lives, and the org's API host follows from it. Taking the US hosts by
default for an EU org is the most common way Zoho connectors fail (``invalid_client``), so the
whole table lives here, in one place, and is unit-tested for all 9 x 3 combinations.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "DATA_CENTERS",
    "DEFAULT_DATA_CENTER",
    "DEFAULT_ENVIRONMENT",
    "ENVIRONMENTS",
    "TOKEN_PATH",
    "DataCenter",
    "accounts_url_for",
    "api_domain_for",
    "apply_environment",
    "is_trusted_api_domain",
    "without_credentials",
]


@dataclasses.dataclass(frozen=True)
class DataCenter:
    """One Zoho data centre.

    Attributes:
        code: The short code used in the ``data_center`` setting (``us``, ``eu``...).
        label: Human readable name, used in documentation and error messages.
        accounts_host: Host name of the accounts (OAuth) server.
        api_tld: Top-level domain of the API hosts (``zohoapis.<api_tld>``).
    """

    code: str
    label: str
    accounts_host: str
    api_tld: str

    @property
    def accounts_url(self) -> str:
        """The accounts server URL, e.g. ``https://accounts.zoho.eu``."""
        return f"https://{self.accounts_host}"

    def api_domain(self, environment: str = "production") -> str:
        """The API domain of an org of this data centre in the given environment.

        Args:
            environment: ``production``, ``sandbox`` or ``developer``.

        Returns:
            E.g. ``https://www.zohoapis.eu`` or ``https://sandbox.zohoapis.eu``.
        """
        return f"https://{ENVIRONMENTS[environment]}.zohoapis.{self.api_tld}"


#: Host prefix of the API domain per environment. Sandbox and developer orgs share the
#: production accounts server; only the API host differs.
ENVIRONMENTS: dict[str, str] = {
    "production": "www",
    "sandbox": "sandbox",
    "developer": "developer",
}

DEFAULT_DATA_CENTER = "us"
#: The token endpoint of an accounts server.
TOKEN_PATH = "/oauth/v2/token"  # noqa: S105 (a URL path, not a secret)
DEFAULT_ENVIRONMENT = "production"

DATA_CENTERS: dict[str, DataCenter] = {
    dc.code: dc
    for dc in (
        DataCenter("us", "United States", "accounts.zoho.com", "com"),
        DataCenter("eu", "Europe", "accounts.zoho.eu", "eu"),
        DataCenter("in", "India", "accounts.zoho.in", "in"),
        DataCenter("au", "Australia", "accounts.zoho.com.au", "com.au"),
        DataCenter("jp", "Japan", "accounts.zoho.jp", "jp"),
        DataCenter("ca", "Canada", "accounts.zohocloud.ca", "ca"),
        DataCenter("cn", "China", "accounts.zoho.com.cn", "com.cn"),
        DataCenter("sa", "Saudi Arabia", "accounts.zoho.sa", "sa"),
        # Zoho lists zohoapis.uk for the UK data centre; it is not confirmed for CRM yet, which
        # is why the token response's api_domain always wins over this table.
        DataCenter("uk", "United Kingdom", "accounts.zoho.uk", "uk"),
    )
}


def _data_center(code: str | None) -> DataCenter:
    key = (code or DEFAULT_DATA_CENTER).strip().lower()
    try:
        return DATA_CENTERS[key]
    except KeyError:
        valid = ", ".join(DATA_CENTERS)
        msg = f"Unknown data_center '{code}'; use one of {valid}."
        raise ValueError(msg) from None


def accounts_url_for(data_center: str | None, override: str | None = None) -> str:
    """The accounts server to refresh tokens against.

    Args:
        data_center: The ``data_center`` setting (default ``us``).
        override: The ``accounts_url`` setting, if any; it wins (the emulator uses it).

    Returns:
        The accounts server URL without a trailing slash.
    """
    if override:
        return override.rstrip("/")
    return _data_center(data_center).accounts_url


def api_domain_for(data_center: str | None, environment: str | None = None) -> str:
    """The API domain from the table, used only when the token response carries none.

    Args:
        data_center: The ``data_center`` setting.
        environment: The ``environment`` setting (default ``production``).

    Returns:
        The API domain URL without a trailing slash.
    """
    env = _environment(environment)
    return _data_center(data_center).api_domain(env)


def _environment(environment: str | None) -> str:
    env = (environment or DEFAULT_ENVIRONMENT).strip().lower()
    if env not in ENVIRONMENTS:
        valid = ", ".join(ENVIRONMENTS)
        msg = f"Unknown environment '{environment}'; use one of {valid}."
        raise ValueError(msg)
    return env


def apply_environment(api_domain: str, environment: str | None) -> str:
    """Turn the token's (production) API domain into the environment's API domain.

    The token response names the org's production API domain (``https://www.zohoapis.eu``);
    sandbox and developer orgs live on ``sandbox.``/``developer.`` hosts of the same data
    centre. Domains that are not Zoho's ``www.zohoapis.*`` hosts (a proxy, the local emulator)
    are returned unchanged.

    Args:
        api_domain: The API domain from the token response.
        environment: The ``environment`` setting.

    Returns:
        The API domain to call, without a trailing slash.
    """
    env = _environment(environment)
    api_domain = api_domain.rstrip("/")
    parts = urlsplit(api_domain)
    host = parts.hostname or ""
    if env == DEFAULT_ENVIRONMENT or not host.startswith("www.zohoapis."):
        return api_domain
    new_host = ENVIRONMENTS[env] + host[len("www") :]
    netloc = new_host if parts.port is None else f"{new_host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def without_credentials(url: str) -> str:
    """A URL with any ``user:password@`` part removed, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def is_trusted_api_domain(url: str, trusted: tuple[str, ...] = ()) -> bool:
    """Whether the access token may go to ``url`` (a token response's ``api_domain``).

    Zoho's API hosts over https (``www.zohoapis.*``, ``sandbox.zohoapis.*``, ...), or the host
    of an explicitly configured ``accounts_url`` (the emulator, a proxy of one's own).
    """
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return False
    host = (parts.hostname or "").lower()
    for allowed in trusted:
        if host and host == (urlsplit(allowed).hostname or "").lower():
            return True
    if parts.scheme != "https":
        return False
    tlds = {dc.api_tld for dc in DATA_CENTERS.values()}
    return any(host == f"zohoapis.{tld}" or host.endswith(f".zohoapis.{tld}") for tld in tlds)
