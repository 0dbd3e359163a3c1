"""The tap baseline: a bare ``requests`` loop paging Get Records and printing JSON lines.

``python benchmarks/baseline_tap.py URL MODULE FIELDS``

Gets a token with the emulator's refresh token, then pages ``/crm/v8/{MODULE}`` with the
parameters the tap sends (200 per page, ``Modified_Time`` ascending, ``page_token`` from the
previous answer) and writes each record as one JSON line on stdout. No schema, no state, no
retries, no typing: the least a Python extractor can do over HTTP.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import requests


def token(session: requests.Session, base_url: str) -> dict[str, Any]:
    """An access token (and ``api_domain``) from the emulator's refresh token."""
    answer = session.post(
        f"{base_url}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "emulator-client-id",
            "client_secret": "emulator-client-secret",
            "refresh_token": "emulator-refresh-token",
        },
        timeout=60,
    )
    return dict(answer.json())


def pages(
    session: requests.Session, api: str, headers: dict[str, str], module: str, fields: str
) -> Iterator[list[dict[str, Any]]]:
    """Each page's records of a module, paged as the tap pages Get Records."""
    params: dict[str, Any] = {
        "fields": fields,
        "per_page": 200,
        "sort_by": "Modified_Time",
        "sort_order": "asc",
    }
    if module == "Leads":
        params["converted"] = "both"
    page_token = None
    while True:
        query = dict(params, page_token=page_token) if page_token else params
        response = session.get(f"{api}/crm/v8/{module}", params=query, headers=headers, timeout=60)
        if response.status_code == 204:
            return
        body = response.json()
        yield body["data"]
        if not body["info"]["more_records"]:
            return
        page_token = body["info"]["next_page_token"]


def main() -> None:
    """Page the module and print its records."""
    base_url, module, fields = sys.argv[1], sys.argv[2], sys.argv[3]
    session = requests.Session()
    access = token(session, base_url)
    headers = {"Authorization": f"Zoho-oauthtoken {access['access_token']}"}
    out = sys.stdout
    for records in pages(session, access["api_domain"], headers, module, fields):
        for record in records:
            out.write(json.dumps(record) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
