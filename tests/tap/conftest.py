"""The tap tier: tap-zohocrm in-process against the emulator (real HTTP)."""

from __future__ import annotations

import pytest


@pytest.fixture
def emulator_defaults() -> dict:
    """No recycle-bin entries from before the first sync unless a test asks.

    A first sync reads the whole recycle bin, and tests about other things compare live
    records.
    """
    return {"deleted_fraction": 0.0}


@pytest.fixture
def discover_catalog():
    """Factory: the catalog dict discovery produces for a config (in-process)."""
    from tap_zohocrm.tap import TapZohoCRM

    def discover(config):
        return TapZohoCRM(config=config, setup_mapper=False).catalog_dict

    return discover
