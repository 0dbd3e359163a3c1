"""The end-to-end tier: Meltano, the demo, PostgreSQL, Chromium, the wheel in a clean venv.

The slow setup steps are announced and timed (``e2e_phases.phase``); the summary of every
run lists what each took.
"""

from __future__ import annotations

from e2e_phases import report_phases  # noqa: F401 - the autouse fixture
