"""What the readers below a module stream see of it: Protocols, so they never import it.

``ZohoModuleStream`` satisfies each; the COQL reader and the Bulk Read backfill add what
only they use (``coql_reader.CoqlSource``, ``bulk.backfill.BackfillSource``).
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    import logging

    from tap_zohocrm.options import TapSettings

__all__ = ["ModuleSource"]


class ModuleSource(t.Protocol):
    """A module stream's facts: its module, settings, schema and selection."""

    module: str
    settings: TapSettings
    #: The module's record count, when this run asked Zoho for it.
    module_count: int | None

    @property
    def replication_key(self) -> str | None:
        """``Modified_Time``, or None for a module read whole."""
        ...

    @property
    def schema(self) -> dict:
        """The stream's schema."""
        ...

    @property
    def logger(self) -> logging.Logger:
        """The stream's logger."""
        ...

    def selected_properties(self) -> tuple[str, ...]:
        """The selected properties, in schema order."""
        ...
