"""Insights: a CRM team's questions answered from a target-sqlite-audit database.

Reads the audit file only (never the Zoho API), so it works offline and on history
(``--as-of``). Layers: :mod:`.cli` on top, then :mod:`.page` (terminal and HTML), then
:mod:`.kpis` and :mod:`.charts`, then :mod:`.source` (the read-only SQLite access).
"""

from __future__ import annotations

__all__: list[str] = []
