"""Throughput: the tap keeps at least half the speed of a bare requests loop (issue 8 goal)."""

import contextlib
import io
import json
import time

import pytest
import requests

from tap_zohocrm.tap import TapZohoCRM

RECORDS = 6000


def bare_loop(base_url, credentials, fields):
    """The baseline: page Get Records with page_token and write each record as a JSON line."""
    session = requests.Session()
    token = session.post(
        f"{base_url}/oauth/v2/token", data={**credentials, "grant_type": "refresh_token"}
    ).json()
    headers = {"Authorization": f"Zoho-oauthtoken {token['access_token']}"}
    params = {
        "fields": ",".join(fields),
        "per_page": 200,
        "sort_by": "Modified_Time",
        "sort_order": "asc",
        "converted": "both",
    }
    out = io.StringIO()
    count, page_token = 0, None
    while True:
        page = dict(params, page_token=page_token) if page_token else params
        body = session.get(
            f"{token['api_domain']}/crm/v8/Leads", params=page, headers=headers
        ).json()
        for record in body["data"]:
            out.write(json.dumps(record) + "\n")
            count += 1
        if not body["info"]["more_records"]:
            return count
        page_token = body["info"]["next_page_token"]


@pytest.mark.slow
def test_tap_reaches_half_the_records_per_second_of_a_bare_loop(
    tap_emulator, tap_config, discover_catalog
):
    emu = tap_emulator(seed=61, sizes={"Leads": RECORDS, "Contacts": 0, "Deals": 0})
    config = tap_config(emu)
    catalog = discover_catalog(config)
    leads = next(s for s in catalog["streams"] if s["tap_stream_id"] == "leads")
    fields = list(leads["schema"]["properties"])
    fields.remove("_sdc_deleted_at")
    credentials = {k: config[k] for k in ("client_id", "client_secret", "refresh_token")}

    def time_tap():
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            TapZohoCRM(config=config, catalog=catalog).sync_all()
        return time.perf_counter() - started

    def time_loop():
        started = time.perf_counter()
        assert bare_loop(emu.base_url, credentials, fields) == RECORDS
        return time.perf_counter() - started

    time_tap(), time_loop()  # warm up both (imports, the emulator's query cache)
    # Best of three each: the machines are shared and noisy.
    tap = min(time_tap() for _ in range(3))
    loop = min(time_loop() for _ in range(3))
    ratio = loop / tap
    print(f"tap {RECORDS / tap:.0f} rec/s, bare loop {RECORDS / loop:.0f} rec/s, ratio {ratio:.2f}")
    assert ratio >= 0.5
