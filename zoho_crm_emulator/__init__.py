"""A local Zoho CRM emulator for offline runs and tests.

It serves Zoho's OAuth token endpoint, Get Records, deleted records and the settings
endpoints over real HTTP with Zoho's rules and error codes, from deterministic generated
data, with fault injection and counters. See docs/EMULATOR.md.
"""

from __future__ import annotations

from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.emulator import Emulator
from zoho_crm_emulator.errors import ZohoError
from zoho_crm_emulator.store import MutationError

__all__ = ["Emulator", "EmulatorConfig", "MutationError", "ZohoError"]
