"""Unit tests of the pure parts: hosts, schema mapping, bookmarks, token lifetimes, backoff."""

import datetime

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_zohocrm import hosts
from tap_zohocrm.auth import ZohoOAuthAuthenticator, _lifetime_seconds
from tap_zohocrm.bookmarks import BookmarkTracker, parse_instant, to_header_value
from tap_zohocrm.errors import describe_zoho_error
from tap_zohocrm.schema import field_schema, module_schema, standard_schema
from tap_zohocrm.streams import stream_name_for

# ---- hosts: all 9 data centres x 3 environments ---------------------------------------------

EXPECTED_HOSTS = {
    # dc: (accounts server, production API domain)
    "us": ("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "au": ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "ca": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "cn": ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "sa": ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    "uk": ("https://accounts.zoho.uk", "https://www.zohoapis.uk"),
}
ENV_PREFIX = {"production": "www", "sandbox": "sandbox", "developer": "developer"}


def test_the_table_has_exactly_the_nine_data_centres():
    assert set(hosts.DATA_CENTERS) == set(EXPECTED_HOSTS)
    assert set(hosts.ENVIRONMENTS) == set(ENV_PREFIX)


@pytest.mark.parametrize("environment", sorted(ENV_PREFIX))
@pytest.mark.parametrize("dc", sorted(EXPECTED_HOSTS))
def test_every_data_centre_and_environment_maps_to_its_hosts(dc, environment):
    accounts, production_api = EXPECTED_HOSTS[dc]
    expected_api = production_api.replace("://www.", f"://{ENV_PREFIX[environment]}.")
    # Sandbox and developer orgs use the production accounts server.
    assert hosts.accounts_url_for(dc) == accounts
    assert hosts.api_domain_for(dc, environment) == expected_api
    # The token's (production) api_domain is moved to the environment's host...
    assert hosts.apply_environment(production_api, environment) == expected_api
    # ... and the authenticator refreshes against the data centre's accounts server.
    auth = ZohoOAuthAuthenticator(
        client_id="i", client_secret="s", refresh_token="r", data_center=dc, environment=environment
    )
    assert auth.accounts_url == accounts
    assert auth.auth_endpoint == f"{accounts}/oauth/v2/token"


def test_data_centre_codes_are_case_insensitive_and_default_to_us():
    assert hosts.accounts_url_for("EU") == "https://accounts.zoho.eu"
    assert hosts.accounts_url_for(None) == "https://accounts.zoho.com"
    assert hosts.api_domain_for(None) == "https://www.zohoapis.com"


def test_unknown_data_centre_or_environment_names_the_valid_ones():
    with pytest.raises(ValueError, match="us, eu, in, au, jp, ca, cn, sa, uk"):
        hosts.accounts_url_for("xx")
    with pytest.raises(ValueError, match="production, sandbox, developer"):
        hosts.api_domain_for("us", "staging")


def test_overrides_win_and_foreign_api_domains_are_kept():
    assert hosts.accounts_url_for("eu", "http://127.0.0.1:9/") == "http://127.0.0.1:9"
    # The emulator (or a proxy) is not a www.zohoapis.* host: the environment cannot move it.
    assert hosts.apply_environment("http://127.0.0.1:8765/", "sandbox") == "http://127.0.0.1:8765"
    assert (
        hosts.apply_environment("https://www.zohoapis.eu:8443", "developer")
        == "https://developer.zohoapis.eu:8443"
    )


def test_api_domain_override_beats_the_token():
    auth = ZohoOAuthAuthenticator(
        client_id="i",
        client_secret="s",
        refresh_token="r",
        data_center="eu",
        api_domain="https://proxy.example.com/",
    )
    # No token request needed: the override is used as is.
    assert auth.api_domain == "https://proxy.example.com"
    assert auth.token_requests == 0


# ---- schema mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ({"api_name": "id", "data_type": "bigint", "json_type": "string"}, {"type": ["string"]}),
        ({"data_type": "text", "json_type": "string"}, {"type": ["string", "null"]}),
        (
            {"data_type": "datetime", "json_type": "string"},
            {"type": ["string", "null"], "format": "date-time"},
        ),
        (
            {"data_type": "date", "json_type": "string"},
            {"type": ["string", "null"], "format": "date"},
        ),
        ({"data_type": "currency", "json_type": "double"}, {"type": ["number", "null"]}),
        ({"data_type": "percent", "json_type": "double"}, {"type": ["number", "null"]}),
        ({"data_type": "decimal", "json_type": "double"}, {"type": ["number", "null"]}),
        ({"data_type": "integer", "json_type": "integer"}, {"type": ["integer", "null"]}),
        ({"data_type": "bigint", "json_type": "string"}, {"type": ["string", "null"]}),
        ({"data_type": "boolean", "json_type": "boolean"}, {"type": ["boolean", "null"]}),
        ({"data_type": "autonumber", "json_type": "string"}, {"type": ["string", "null"]}),
        (
            {"data_type": "multiselectpicklist", "json_type": "jsonarray"},
            {"type": ["array", "null"], "items": {"type": "string"}},
        ),
        (
            {"data_type": "formula", "json_type": "double", "formula": {"return_type": "double"}},
            {"type": ["number", "null"]},
        ),
        (
            {"data_type": "formula", "json_type": "string", "formula": {"return_type": "date"}},
            {"type": ["string", "null"], "format": "date"},
        ),
        (
            {"data_type": "formula", "json_type": "boolean", "formula": {"return_type": "boolean"}},
            {"type": ["boolean", "null"]},
        ),
        ({"data_type": "something_new", "json_type": "double"}, {"type": ["number", "null"]}),
    ],
)
def test_field_types(field, expected):
    assert field_schema(field) == expected


def test_lookups_are_objects_with_string_ids_and_owner_lookups_add_email():
    lookup = field_schema({"data_type": "lookup", "json_type": "jsonobject"})
    owner = field_schema({"data_type": "ownerlookup", "json_type": "jsonobject"})
    assert lookup["type"] == ["object", "null"]
    assert lookup["properties"]["id"] == {"type": ["string", "null"]}
    assert "email" not in lookup["properties"]
    assert owner["properties"]["email"] == {"type": ["string", "null"]}


def test_tag_is_an_array_of_name_id_objects():
    tag = field_schema({"api_name": "Tag", "data_type": "text", "json_type": "jsonarray"})
    assert tag["type"] == ["array", "null"]
    assert set(tag["items"]["properties"]) == {"name", "id"}


def test_module_schema_adds_id_first_and_deleted_at_and_drops_system_keys():
    schema = module_schema(
        [
            {"api_name": "Last_Name", "data_type": "text", "json_type": "string"},
            {"api_name": "$approved", "data_type": "boolean", "json_type": "boolean"},
            {"api_name": "Modified_Time", "data_type": "datetime", "json_type": "string"},
        ]
    )
    assert list(schema["properties"]) == [
        "id", "Last_Name", "Modified_Time", "zoho_state", "zoho_approval_state", "_sdc_deleted_at"
    ]  # fmt: skip
    assert schema["properties"]["_sdc_deleted_at"] == {
        "type": ["string", "null"],
        "format": "date-time",
    }


@pytest.mark.parametrize("stream", ["leads", "contacts", "deals"])
def test_bundled_standard_schemas(stream):
    schema = standard_schema(stream)
    properties = schema["properties"]
    assert properties["id"] == {"type": ["string"]}
    assert properties["Modified_Time"]["format"] == "date-time"
    assert "_sdc_deleted_at" in properties
    assert properties["Owner"]["properties"]["id"]["type"] == ["string", "null"]


def test_stream_names_are_snake_case_module_names():
    assert stream_name_for("Leads") == "leads"
    assert stream_name_for("Price_Books") == "price_books"
    assert stream_name_for("SalesOrders") == "sales_orders"
    assert stream_name_for("Projects") == "projects"


# ---- bookmarks -----------------------------------------------------------------------------


def test_instants_not_strings_across_the_dst_fall_back():
    pdt = "2024-11-03T01:30:00-07:00"  # 08:30 UTC
    pst = "2024-11-03T01:10:00-08:00"  # 09:10 UTC: later, although it sorts first as text
    assert pst < pdt
    assert parse_instant(pst) > parse_instant(pdt)


def test_tracker_checkpoints_only_complete_seconds_and_ends_on_the_newest():
    tracker = BookmarkTracker(None)
    values = [
        "2024-11-03T01:20:00-07:00",
        "2024-11-03T01:30:00-07:00",
        "2024-11-03T01:30:00-07:00",  # same second: may continue on the next page
        "2024-11-03T01:10:00-08:00",  # later instant, "smaller" string
        "2024-11-03T01:10:00-08:00",
    ]
    checkpoints = []
    for value in values:
        tracker.observe(value)
        checkpoints.append(tracker.checkpoint)
    assert checkpoints == [
        None,
        "2024-11-03T01:20:00-07:00",
        "2024-11-03T01:20:00-07:00",
        "2024-11-03T01:30:00-07:00",
        "2024-11-03T01:30:00-07:00",
    ]
    assert tracker.final == "2024-11-03T01:10:00-08:00"
    assert not tracker.unsorted


def test_tracker_starts_from_the_bookmark_and_never_goes_back():
    tracker = BookmarkTracker("2024-06-01T00:00:00-07:00")
    assert tracker.checkpoint is None
    assert tracker.final is None
    # An inclusive server may send the boundary record again.
    tracker.observe("2024-06-01T00:00:00-07:00")
    assert tracker.final is None
    tracker.observe("2024-06-02T00:00:00-07:00")
    assert tracker.checkpoint is None  # still only the start is complete
    tracker.observe("2024-06-03T00:00:00-07:00")
    assert tracker.checkpoint == "2024-06-02T00:00:00-07:00"
    assert tracker.final == "2024-06-03T00:00:00-07:00"


def test_tracker_stops_advancing_checkpoints_on_unsorted_data_but_ends_exact():
    tracker = BookmarkTracker(None)
    for value in ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"]:
        tracker.observe(value)
    assert tracker.checkpoint == "2024-01-02T00:00:00Z"
    tracker.observe("2024-01-01T12:00:00Z")
    tracker.observe("2024-01-05T00:00:00Z")
    assert tracker.unsorted
    assert tracker.checkpoint == "2024-01-02T00:00:00Z"
    assert tracker.final == "2024-01-05T00:00:00Z"


def test_a_new_query_may_repeat_the_boundary_without_flagging_disorder():
    tracker = BookmarkTracker(None)
    for value in ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"]:
        tracker.observe(value)
    tracker.new_query()
    tracker.observe("2024-01-02T00:00:00Z")  # inclusive If-Modified-Since repeats this one
    tracker.observe("2024-01-03T00:00:00Z")
    assert not tracker.unsorted


@pytest.mark.parametrize(
    ("value", "header"),
    [
        ("2024-01-20T04:01:48-08:00", "2024-01-20T04:01:48-08:00"),
        ("2024-01-01", "2024-01-01T00:00:00+00:00"),
        ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00+00:00"),
        ("2024-01-01T10:00:00.123456+05:30", "2024-01-01T10:00:00+05:30"),
    ],
)
def test_if_modified_since_header_values(value, header):
    assert to_header_value(value) == header


# ---- token lifetimes, error bodies, backoff -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        ({"expires_in": 3600}, 3600),
        ({"expires_in_sec": 3600, "expires_in": 3600000}, 3600),
        ({"expires_in": 3600000}, 3600),
        ({}, 3600),
    ],
)
def test_token_lifetime(body, seconds):
    assert _lifetime_seconds(body) == seconds


def test_zoho_error_bodies():
    assert describe_zoho_error(
        {"code": "INVALID_DATA", "details": {"api_name": "X"}, "message": "invalid field"}
    ) == ("INVALID_DATA", "invalid field", ' (details: {"api_name":"X"})')
    assert describe_zoho_error({"data": [{"code": "NO_PERMISSION", "message": "no"}]})[:2] == (
        "NO_PERMISSION",
        "no",
    )
    assert describe_zoho_error(None) == (None, None, "")


def _retriable(status, headers=None):
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    return RetriableAPIError("x", response)


def test_backoff_doubles_with_jitter_and_honours_retry_after():
    from tap_zohocrm.client import ZohoStream
    from tap_zohocrm.retries import TokenRejected

    class _Probe(ZohoStream):
        name = "probe"
        path = "/probe"

        def __init__(self):  # no tap needed for the wait generator
            pass

    probe = _Probe()
    waits = probe.backoff_wait_generator()
    waits.send(None)
    first = [waits.send(_retriable(429)) for _ in range(4)]
    for n, wait in enumerate(first):
        base = ZohoStream.BACKOFF_FACTOR * 2**n
        assert base / 2 <= wait <= base
    assert 30 <= waits.send(_retriable(429, {"Retry-After": "30"})) <= 30.1
    assert waits.send(_retriable(503, {"Retry-After": "100000"})) <= ZohoStream.MAX_WAIT + 0.1
    assert waits.send(TokenRejected("t", None)) == 0.0
    http_date = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=20)
    wait = waits.send(
        _retriable(429, {"Retry-After": http_date.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    )
    assert 17 <= wait <= 20.2
