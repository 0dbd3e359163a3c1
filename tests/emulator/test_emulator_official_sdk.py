"""Zoho's own Python SDK (zohocrmsdk8-0) against the emulator: it must read what Zoho serves.

The SDK parses every answer into typed objects from its own specification, so a shape or a
type the emulator gets wrong (a string length, a decimal data type, a missing endpoint) fails
here. It runs in a subprocess: the SDK keeps global state (its Initializer, token store, logger).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("zohocrmsdk")

SCRIPT = textwrap.dedent(
    """
    import datetime, json, os, sys, tempfile, time
    from zohocrmsdk.src.com.zoho.api.authenticator import OAuthToken
    from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore
    from zohocrmsdk.src.com.zoho.api.logger import Logger
    from zohocrmsdk.src.com.zoho.crm.api import HeaderMap, ParameterMap
    from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
    from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
    from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig

    base = sys.argv[1]
    folder = tempfile.mkdtemp()
    Initializer.initialize(
        environment=DataCenter.Environment(base, base + "/oauth/v2/token", base),
        token=OAuthToken(client_id="emulator-client-id", client_secret="emulator-client-secret",
                         refresh_token="emulator-refresh-token"),
        store=FileStore(os.path.join(folder, "tokens.txt")),
        sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False),
        resource_path=folder,
        logger=Logger.get_instance(Logger.Levels.INFO, os.path.join(folder, "sdk.log")),
    )
    out = {}

    def ok(name, response, wrapper):
        obj = response.get_object()
        if type(obj).__name__ != wrapper:
            detail = obj.get_code().get_value() if hasattr(obj, "get_code") else type(obj).__name__
            raise SystemExit(f"{name}: {response.get_status_code()} {detail}")
        return obj

    from zohocrmsdk.src.com.zoho.crm.api.record import (
        GetDeletedRecordsParam, GetRecordsParam, RecordOperations)
    params = ParameterMap()
    params.add(GetRecordsParam.fields,
               "Last_Name,Annual_Revenue,Lead_Score,Created_Time,Owner,Converted__s,Interests")
    rows = ok("records", RecordOperations("Leads").get_records(params, HeaderMap()),
              "ResponseWrapper").get_data()
    first = rows[0].get_key_values()
    out["records"] = {k: type(v).__name__ for k, v in first.items()}
    out["owner_id"] = type(first["Owner"].get_id()).__name__

    from zohocrmsdk.src.com.zoho.crm.api.fields import FieldsOperations, GetFieldsParam
    params = ParameterMap()
    params.add(GetFieldsParam.module, "Leads")
    fields = ok("fields", FieldsOperations().get_fields(params), "ResponseWrapper").get_fields()
    out["lengths"] = sorted({type(f.get_length()).__name__ for f in fields})
    out["data_types"] = sorted({f.get_data_type() for f in fields})
    by_name = {f.get_api_name(): f for f in fields}
    out["autonumber_prefix"] = by_name["Lead_Number"].get_auto_number_61().get_prefix()
    out["currency_precision"] = by_name["Annual_Revenue"].get_currency().get_precision()

    from zohocrmsdk.src.com.zoho.crm.api.modules import ModulesOperations
    modules = ok("modules", ModulesOperations().get_modules(), "ResponseWrapper").get_modules()
    out["modules"] = len(modules)
    one = ok("module", ModulesOperations().get_module_by_api_name("Deals"), "ResponseWrapper")
    out["module"] = one.get_modules()[0].get_api_name()

    from zohocrmsdk.src.com.zoho.crm.api.users import GetUsersParam, UsersOperations
    for kind in ("CurrentUser", "AllUsers"):
        params = ParameterMap()
        params.add(GetUsersParam.type, kind)
        users = ok(kind, UsersOperations().get_users(params), "ResponseWrapper").get_users()
        out[kind] = [u.get_email() for u in users]
    out["user_role"] = users[0].get_role().get_name()

    from zohocrmsdk.src.com.zoho.crm.api.org import OrgOperations
    org = ok("org", OrgOperations().get_organization(), "ResponseWrapper").get_org()[0]
    out["org"] = [org.get_time_zone(), org.get_iso_code()]

    params = ParameterMap()
    params.add(GetDeletedRecordsParam.type, "all")
    deleted = ok("deleted", RecordOperations("Leads").get_deleted_records(params),
                 "DeletedRecordsWrapper").get_data()
    out["deleted_time"] = type(deleted[0].get_deleted_time()).__name__

    from zohocrmsdk.src.com.zoho.crm.api.bulk_read import BodyWrapper, BulkReadOperations, Query
    from zohocrmsdk.src.com.zoho.crm.api.modules import MinifiedModule
    query, module, body = Query(), MinifiedModule(), BodyWrapper()
    module.set_api_name("Leads")
    query.set_module(module)
    query.set_fields(["Last_Name", "Email"])
    body.set_query(query)
    created = ok("bulk", BulkReadOperations().create_bulk_read_job(body), "ActionWrapper")
    job = int(created.get_data()[0].get_details()["id"])
    for _ in range(100):
        details = ok("bulk details", BulkReadOperations().get_bulk_read_job_details(job),
                     "ResponseWrapper")
        if details.get_data()[0].get_state().get_value() == "COMPLETED":
            break
        time.sleep(0.1)
    download = ok("bulk download", BulkReadOperations().download_result(job), "FileBodyWrapper")
    out["bulk_bytes"] = len(download.get_file().get_stream().content)
    print(json.dumps(out))
    """
)


@pytest.mark.slow
def test_zohos_official_python_sdk_reads_the_emulator_without_errors_or_wrong_types(
    start_emulator, tmp_path
):
    base_url = start_emulator(seed=5, bulk_job_seconds=0.3).base_url
    script = tmp_path / "sdk_probe.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), base_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["records"]["Created_Time"] == "datetime"
    assert out["records"]["Annual_Revenue"] == "float"
    assert out["records"]["Converted__s"] == "bool"
    assert out["records"]["Interests"] == "list"
    assert out["records"]["id"] == "int"
    assert out["owner_id"] == "int"
    assert out["lengths"] == ["int"]  # every field has an integer length
    assert "decimal" not in out["data_types"]
    assert out["autonumber_prefix"] == "LEA-"
    assert out["currency_precision"] == 2
    assert out["modules"] > 10
    assert out["module"] == "Deals"
    assert len(out["CurrentUser"]) == 1
    assert len(out["AllUsers"]) == 5
    assert out["user_role"]
    assert out["org"] == ["America/Los_Angeles", "USD"]
    assert out["deleted_time"] == "datetime"
    assert out["bulk_bytes"] > 100
