"""Shared pytest fixtures. Add new fixtures below; keep existing ones unchanged."""

from __future__ import annotations

import pytest

from zoho_crm_emulator import Emulator, EmulatorConfig


@pytest.fixture
def emulator_factory():
    """Start emulators on free ports; all are stopped after the test.

    Usage: ``emu, base_url = emulator_factory(sizes={"Leads": 2600}, token_lifetime_calls=5)``
    (keyword arguments are ``EmulatorConfig`` fields).
    """
    started: list[Emulator] = []

    def make(**config) -> tuple[Emulator, str]:
        emu = Emulator(EmulatorConfig(**config))
        started.append(emu)
        return emu, emu.start()

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(emulator_factory):
    """A default emulator (seed 42, small sizes) already serving: ``(emu, base_url)``."""
    return emulator_factory()
