"""The concurrency floor: bare ``requests`` threads making the tap's calls, printing JSON lines.

``python benchmarks/baseline_concurrent.py URL LEVEL FIELDS_JSON``

``FIELDS_JSON`` maps each module to the comma-separated fields to ask for (read before the
run, as the tap takes its fields from the catalog). One thread per module (at most ``LEVEL`` at
once) pages ``/crm/v8/{MODULE}`` with those fields as the tap does (200 per page,
``Modified_Time`` ascending, ``page_token``), then reads the module's recycle bin
(``/{MODULE}/deleted``), and writes each record as one JSON line on stdout under one lock.
No schema, state, retries or typing: what this machine, this emulator and Python's HTTP stack
allow at the configured latency, so that the tap's concurrency figure can be read against a
floor measured in the same run. It prints one line before it asks for a token, as the tap
writes its first SCHEMA before its first call, so "after start-up" means the same for both.
"""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from baseline_tap import pages, token  # the sibling script: one paging loop for both


def _read(api: str, headers: dict[str, str], module: str, fields: str, write: Any) -> None:
    session = requests.Session()
    for records in pages(session, api, headers, module, fields):
        write(records)
    listing: dict[str, str | int] = {"type": "all", "per_page": 200, "page": 1}
    deleted = session.get(
        f"{api}/crm/v8/{module}/deleted",
        params=listing,
        headers=headers,
        timeout=60,
    )
    if deleted.status_code == 200:
        write(deleted.json().get("data") or [])


def main() -> None:
    """Read every module named on the command line, ``LEVEL`` at a time."""
    base_url, level = sys.argv[1], int(sys.argv[2])
    with open(sys.argv[3], encoding="utf-8") as handle:
        fields: dict[str, str] = json.load(handle)
    modules = list(fields)
    out = sys.stdout
    lock = threading.Lock()
    out.write(json.dumps({"type": "START", "modules": modules}) + "\n")
    out.flush()

    def write(records: list[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(record) + "\n" for record in records)
        with lock:
            out.write(lines)

    access = token(requests.Session(), base_url)
    headers = {"Authorization": f"Zoho-oauthtoken {access['access_token']}"}
    with ThreadPoolExecutor(max_workers=level) as pool:
        api = access["api_domain"]
        reads = [pool.submit(_read, api, headers, m, fields[m], write) for m in modules]
        for future in reads:
            future.result()
    out.flush()


if __name__ == "__main__":
    main()
