"""The two things the store holds: live records and deleted-record entries.

Records keep only what identifies them and their timestamps; every other value is derived
from the seed on demand (see ``data.py``) plus the overrides that mutations wrote. That keeps
a 100,000-record org cheap to build and exactly reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoho_crm_emulator.fielddefs import ModuleDef


@dataclass(slots=True)
class Record:
    """A live record.

    Attributes:
        id: Zoho record id, a 19-digit string.
        index: Generation index within the module; seeds the record's values.
        created: Created_Time as epoch seconds.
        modified: Modified_Time as epoch seconds.
        converted_at: Converted_Date_Time of a converted lead, else None.
        overrides: Values written by mutations, shadowing the generated ones.
        rendered: The store's memo of every rendered field value (``Store.values``), filled
            on first render and cleared by every mutation of the record; None when unset.
    """

    id: str
    index: int
    created: int
    modified: int
    converted_at: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    rendered: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Deletion:
    """An entry of ``/{Module}/deleted``.

    Attributes:
        id: Id of the deleted record.
        deleted_time: When it was deleted, epoch seconds.
        deleted_by: ``{name, id}`` of the deleting user, or None.
        display_name: The record's name at deletion.
        type: ``recycle`` or ``permanent``.
        created_by: ``{name, id}`` of the record's creator.
    """

    id: str
    deleted_time: int
    deleted_by: dict[str, str] | None
    display_name: str
    type: str
    created_by: dict[str, str]


class ModuleState:
    """Live records and deletions of one module, with a version bumped on every change."""

    def __init__(
        self, definition: ModuleDef, records: list[Record], deletions: list[Deletion]
    ) -> None:
        self.definition = definition
        self.records: dict[str, Record] = {r.id: r for r in records}
        self.deletions = deletions
        self.next_index = 0
        self.version = 0
