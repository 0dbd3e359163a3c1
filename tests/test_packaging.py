import importlib

import pytest


@pytest.mark.parametrize("module", ["tap_zohocrm", "target_sqlite_audit", "zoho_crm_emulator"])
def test_packages_import(module):
    assert importlib.import_module(module).__doc__
