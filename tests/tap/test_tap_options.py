"""The tap's settings are read once, with the schema's defaults, into a frozen dataclass."""

from __future__ import annotations

import dataclasses

import pytest

from tap_zohocrm.config_schema import CONFIG_SCHEMA
from tap_zohocrm.options import TapSettings
from tap_zohocrm.tap import TapZohoCRM

BASE = {"client_id": "id", "client_secret": "secret", "refresh_token": "token"}


def test_missing_settings_take_the_schema_defaults():
    settings = TapSettings.from_config(BASE, CONFIG_SCHEMA)
    assert settings.page_size == 200
    assert settings.read_method == "auto"
    assert settings.max_concurrent_requests == 3
    assert settings.include_deleted is True
    assert settings.include_converted_leads is True
    assert settings.data_center == "us"
    assert settings.max_credits_per_run is None
    assert settings.modules == ()


def test_given_settings_win_and_null_or_empty_means_default():
    config = {
        **BASE,
        "page_size": 50,
        "read_method": "COQL",
        "include_deleted": False,
        "data_center": "",
        "modules": ["Accounts", "Accounts", "Tasks"],
        "bulk_threshold": 0,
        "max_credits_per_run": 500,
        "request_timeout": None,
    }
    settings = TapSettings.from_config(config, CONFIG_SCHEMA)
    assert settings.page_size == 50
    assert settings.read_method == "coql"
    assert settings.include_deleted is False
    assert settings.data_center == "us"
    assert settings.modules == ("Accounts", "Tasks")
    assert settings.bulk_threshold == 0
    assert settings.max_credits_per_run == 500
    assert settings.request_timeout == 300


def test_settings_are_frozen():
    settings = TapSettings.from_config(BASE, CONFIG_SCHEMA)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.page_size = 10  # type: ignore[misc]


def test_every_setting_of_the_tap_is_a_field():
    # singer-sdk adds its built-in settings (stream maps, flattening, batch) to the schema.
    builtin: dict = {"properties": {}}
    TapZohoCRM.append_builtin_config(builtin)
    own = set(CONFIG_SCHEMA["properties"]) - set(builtin["properties"])
    assert {field.name for field in dataclasses.fields(TapSettings)} == own
