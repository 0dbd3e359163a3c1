"""Unit tests of the complete-data pieces: deletion start and retention, modules check, schema."""

import datetime
import logging

import pytest
import requests

from tap_zohocrm.deletions import (
    DeletedRecordsReader,
    deletions_start,
    newest_deletion,
    warn_if_retention_passed,
)
from tap_zohocrm.errors import ZohoConfigError
from tap_zohocrm.modules import resolve_modules
from tap_zohocrm.schema import computed_properties, module_schema
from tap_zohocrm.tap import TapZohoCRM

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 22, 12, 0, 30, 500000, tzinfo=UTC)
CONFIG = {"client_id": "i", "client_secret": "s", "refresh_token": "r"}


# ---- deletions --------------------------------------------------------------------------------


def test_the_deletion_listing_starts_at_the_bookmark_else_the_records_bookmark_else_now():
    stored = {"deleted_time": "2026-11-01T10:00:00-07:00"}
    assert deletions_start(stored, records_bookmark="2026-01-01T00:00:00Z", run_started=NOW) == (
        "2026-11-01T10:00:00-07:00"
    )
    assert (
        deletions_start({}, records_bookmark="2025-06-30T23:10:00-07:00", run_started=NOW)
        == "2025-06-30T23:10:00-07:00"
    )
    # First sync: when Zoho first answered, to the second, less one second.
    assert deletions_start({}, records_bookmark=None, run_started=NOW) == (
        "2026-11-22T12:00:29+00:00"
    )


def test_the_newest_deletion_is_compared_as_an_instant():
    entries = [
        {"id": "1", "deleted_time": "2024-11-03T01:30:00-07:00"},  # 08:30 UTC
        {"id": "2", "deleted_time": "2024-11-03T01:10:00-08:00"},  # 09:10 UTC, sorts first
    ]
    since = "2024-11-03T00:00:00-07:00"
    assert newest_deletion(entries, since) == "2024-11-03T01:10:00-08:00"
    assert newest_deletion([], since) == since


@pytest.mark.parametrize(
    ("state", "warns"),
    [
        ({"deleted_synced_at": (NOW - datetime.timedelta(days=61)).isoformat()}, True),
        ({"deleted_synced_at": (NOW - datetime.timedelta(days=59)).isoformat()}, False),
        # Without a last-sync time, the deletion bookmark says when deletions were read.
        ({"deleted_time": (NOW - datetime.timedelta(days=90)).isoformat()}, True),
        ({"replication_key_value": "2020-01-01T00:00:00Z"}, False),  # deletions never read
        ({}, False),
    ],
)
def test_the_retention_warning(state, warns, caplog):
    logger = logging.getLogger("test-retention")
    with caplog.at_level(logging.WARNING, logger="test-retention"):
        assert warn_if_retention_passed(state, now=NOW, stream_name="leads", logger=logger) is warns
    assert len(caplog.records) == int(warns)


def test_a_deletion_page_past_zohos_page_limit_ends_the_listing_without_an_error():
    reader = DeletedRecordsReader(TapZohoCRM(config=CONFIG, setup_mapper=False), "Leads")
    response = requests.Response()
    response.status_code = 400
    response._content = (
        b'{"code": "DISCRETE_PAGINATION_LIMIT_EXCEEDED", "details": {}, '
        b'"message": "limit", "status": "error"}'
    )
    reader.validate_response(response)
    assert reader.page_limit_hit
    assert list(reader.parse_response(response)) == []
    assert not reader.get_new_paginator().has_more(response)


# ---- modules ----------------------------------------------------------------------------------

ORG = [
    {"api_name": "Leads", "api_supported": True},
    {"api_name": "Accounts", "api_supported": True},
    {"api_name": "Price_Books", "api_supported": True},
    {"api_name": "Home", "api_supported": False},
]


def test_modules_are_checked_against_the_org():
    assert resolve_modules(
        ["Accounts", "Leads", "Price_Books", "Accounts"], ORG, always=("Leads",)
    ) == ["Accounts", "Price_Books"]
    with pytest.raises(ZohoConfigError) as error:
        resolve_modules(["accounts", "Home"], ORG)
    assert error.value.sentence == (
        "The modules setting names 'accounts' (unknown), 'Home' (not served by the API); valid "
        "module API names in this org (case-sensitive) are: Accounts, Leads, Price_Books."
    )


# ---- schema -----------------------------------------------------------------------------------


def test_computed_fields_are_marked_and_modified_time_is_not_invented():
    schema = module_schema(
        [
            {"api_name": "Name", "data_type": "text", "json_type": "string"},
            {
                "api_name": "Age",
                "data_type": "formula",
                "json_type": "double",
                "formula": {"return_type": "double"},
            },
            {"api_name": "Total", "data_type": "rollup_summary", "json_type": "double"},
        ]
    )
    assert computed_properties(schema) == ["Age", "Total"]
    assert schema["properties"]["Age"]["type"] == ["number", "null"]
    assert "Modified_Time" not in schema["properties"]  # such a module syncs full table
