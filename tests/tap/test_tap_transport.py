"""Bounded HTTP answers: a gzip bomb, a huge body and a drip never hang or exhaust the tap."""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.transport import BoundedAdapter, bounded_session

BOMB = gzip.compress(b"\0" * (200 * 2**20), compresslevel=9)  # 200 MB of zeros, ~200 KB


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/bomb"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(BOMB)))
            self.end_headers()
            self.wfile.write(BOMB)
        elif self.path.startswith("/drip"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.2)
        else:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_gzip_bomb_stops_at_the_cap_with_one_sentence(hostile):
    with pytest.raises(ZohoAPIError, match=r"body larger than 64 MB \(decompressed\)"):
        bounded_session().get(f"{hostile}/bomb", timeout=30)


@pytest.mark.slow
def test_a_one_byte_drip_hits_the_total_deadline(hostile):
    # The total deadline, not a socket read timeout (each byte comes within 0.2 s), ends it.
    with pytest.raises(requests.exceptions.ReadTimeout, match="longer than 1 s in total"):
        bounded_session().get(f"{hostile}/drip", timeout=1)


def test_a_normal_answer_and_a_streamed_one_are_untouched(hostile):
    assert bounded_session().get(f"{hostile}/ok", timeout=5).json() == {}
    streamed = bounded_session().get(f"{hostile}/ok", timeout=5, stream=True)
    assert streamed.raw.read() == b"{}"


def test_the_tap_fails_in_one_sentence_on_a_gzip_bomb(hostile, start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=3)
    config = tap_config(emu, api_domain=hostile)
    with pytest.raises(ZohoAPIError, match="larger than 64 MB"):
        run_tap({**config, "api_domain": f"{hostile}/bomb"})


def test_contract_requests_response_keeps_its_content_slot():
    """transport.py writes Response._content; a requests upgrade that renames it fails here."""
    response = requests.Response()
    assert hasattr(response, "_content")
    response._content = b"{}"
    assert response.json() == {}
    assert isinstance(BoundedAdapter(), requests.adapters.HTTPAdapter)
