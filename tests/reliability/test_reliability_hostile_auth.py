"""A hostile accounts server: credentials go only to the hosts they belong to (issue 20)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tap_zohocrm.auth import ZohoOAuthAuthenticator
from tap_zohocrm.errors import ZohoAuthError
from tap_zohocrm.hosts import is_trusted_api_domain, without_credentials

SECRET = "very-secret-client-secret"
REFRESH = "very-secret-refresh-token"


class Recorder:
    """A throwaway HTTP server answering every request with a fixed response."""

    def __init__(self, status: int, body: dict | None = None, headers: dict | None = None):
        self.requests: list[bytes] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorder.requests.append(self.rfile.read(length))
                payload = json.dumps(body or {}).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers():
    made: list[Recorder] = []

    def make(*args, **kwargs) -> Recorder:
        made.append(Recorder(*args, **kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


def authenticator(accounts_url: str, **extra) -> ZohoOAuthAuthenticator:
    return ZohoOAuthAuthenticator(
        client_id="id", client_secret=SECRET, refresh_token=REFRESH,
        accounts_url=accounts_url, **extra,
    )  # fmt: skip


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirected_token_request_sends_no_secret_to_the_new_host(servers, status):
    elsewhere = servers(200, {"access_token": "x", "expires_in": 3600})
    accounts = servers(status, headers={"Location": f"{elsewhere.url}/oauth/v2/token"})
    with pytest.raises(ZohoAuthError) as raised:
        authenticator(accounts.url).update_access_token()
    assert "redirected the token request" in raised.value.sentence
    assert SECRET not in raised.value.sentence
    assert elsewhere.requests == []  # nothing, let alone the secret, reached it


@pytest.mark.parametrize(
    "api_domain",
    ["http://www.zohoapis.com", "https://evil.example.com", "https://zohoapis.com.evil.io"],
)
def test_an_api_domain_that_is_not_zoho_over_https_gets_no_token(servers, api_domain):
    accounts = servers(200, {"access_token": "tok", "expires_in": 3600, "api_domain": api_domain})
    # Not the emulator case: the accounts server is taken from the data centre table, so
    # only Zoho's hosts qualify (the test server stands in for accounts.zoho.com).
    auth = authenticator(accounts.url)
    auth.accounts_url_overridden = False
    with pytest.raises(ZohoAuthError, match="not a Zoho API host over https"):
        auth.update_access_token()


def test_an_explicit_api_domain_setting_is_used_whatever_the_token_says(servers):
    accounts = servers(200, {"access_token": "tok", "expires_in": 3600, "api_domain": "http://x"})
    auth = authenticator(accounts.url, api_domain="https://www.zohoapis.eu")
    auth.update_access_token()
    assert auth.api_domain == "https://www.zohoapis.eu"


@pytest.mark.parametrize("expires", ["soon", None, [], "3600"])
def test_a_non_numeric_token_lifetime_is_not_a_traceback(servers, expires):
    accounts = servers(200, {"access_token": "tok", "expires_in": expires})
    auth = authenticator(accounts.url)
    auth.update_access_token()
    assert auth.expires_in == 3600


def test_trusted_hosts_and_credentials_in_urls():
    assert is_trusted_api_domain("https://www.zohoapis.com")
    assert is_trusted_api_domain("https://sandbox.zohoapis.com.au")
    assert not is_trusted_api_domain("https://user:pw@www.zohoapis.com")
    assert is_trusted_api_domain("http://127.0.0.1:9", ("http://127.0.0.1:8/x",))
    assert without_credentials("https://u:p@host:8/x") == "https://host:8/x"
