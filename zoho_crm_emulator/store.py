"""The org's mutable state: live records, deletions and queries (mutations: ``mutations.py``).

All access goes through one re-entrant lock so that HTTP handler threads, the Python API and
the control endpoints see consistent data. Queries are cached per module version, so paging
through 100,000 records sorts them once, not once per page.
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.data import generate_org
from zoho_crm_emulator.errors import invalid_module
from zoho_crm_emulator.fielddefs import ModuleDef
from zoho_crm_emulator.metadata import find_module, parent_field
from zoho_crm_emulator.model import Deletion, ModuleState, Record
from zoho_crm_emulator.mutations import MutationError, Mutations
from zoho_crm_emulator.subforms import SubformRows
from zoho_crm_emulator.timeutil import render
from zoho_crm_emulator.values import ValueGenerator

#: Mutation actions accepted by ``Store.mutate``.
ACTIONS = ("edit", "create", "delete", "convert", "formula", "line_items")


_CACHE_SIZE = 32
#: Key under which a memoized values dict (``Record.rendered``) records its time zone; no
#: field API name starts with a space, so it never shows in a response.
_MEMO_TZ = " tz"


class Store(Mutations):
    """Records and deletions of every supported module, safe to use from many threads.

    Args:
        config: The org's configuration; read for seed, time zone and sizes.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        org = generate_org(config)
        self._modules: dict[str, ModuleState] = {}
        pools: dict[str, list[tuple[int, str]]] = {}
        for name, data in org.modules.items():
            definition = find_module(name)
            assert definition is not None
            state = ModuleState(definition, data.records, data.deletions)
            state.next_index = data.next_index
            self._modules[name] = state
            pools[name] = [(r.index, r.id) for r in data.records]
        self.generator = ValueGenerator(config, pools)
        self.subforms = SubformRows(self.generator)
        self._last_id = org.last_id
        self._newest = org.newest
        self._rng = random.Random(f"{config.seed}:mutations")
        self._cache: OrderedDict[tuple[Any, ...], list[Record]] = OrderedDict()
        self._times: dict[tuple[Any, ...], list[int]] = {}
        self._layouts: dict[str, tuple[list[str], bool]] = {}

    # --- Lookup ---------------------------------------------------------------------

    def module(self, name: str) -> ModuleDef:
        """Return a supported module's definition by (case-insensitive) API name.

        Raises:
            ZohoError: INVALID_MODULE for an unknown or API-unsupported module.
        """
        definition = find_module(name)
        if definition is None or definition.api_name not in self._modules:
            raise invalid_module(name)
        return definition

    def _state(self, name: str) -> ModuleState:
        return self._modules[self.module(name).api_name]

    # --- Rendering ------------------------------------------------------------------

    def values(self, module: ModuleDef, record: Record) -> dict[str, Any]:
        """Return every field value of a record as the API renders it.

        Generated values come first, mutation overrides shadow them, then the timestamps
        and conversion state from the record itself, then formulas (unless overridden).
        """
        tz = self.config.timezone
        values = self.generator.base_values(module, record)
        values.update(record.overrides)
        names = record.overrides.keys() & {"First_Name", "Last_Name"}
        if names and "Full_Name" in module.by_name and "Full_Name" not in record.overrides:
            first, last = values.get("First_Name") or "", values.get("Last_Name") or ""
            values["Full_Name"] = f"{first} {last}".strip()  # Zoho derives it from the names
        values["Created_Time"] = render(record.created, tz)
        values["Modified_Time"] = render(record.modified, tz)
        if "Converted__s" in module.by_name:
            values["Converted__s"] = record.converted_at is not None
            values["Converted_Date_Time"] = (
                None if record.converted_at is None else render(record.converted_at, tz)
            )
            for name, link in self.generator.conversion_links(record).items():
                values.setdefault(name, link)
        link_field = parent_field(module)
        if link_field is not None:
            if link_field in record.overrides:
                parent = record.overrides[link_field]
                parent_module = self._module_holding(parent.get("id") if parent else None)
            else:
                parent_module, parent = self.generator.activity_parent(module, record)
                if parent and "Call_Start_Time" in module.by_name:
                    self._call_after_parent(values, record, parent_module, parent["id"])
            values[link_field] = parent
            values["$se_module"] = parent_module if parent else None
        for f in module.formula_fields():
            if f.api_name not in record.overrides:
                values[f.api_name] = self.generator.formula_value(f, values, record)
        return values

    def _call_after_parent(
        self, values: dict[str, Any], record: Record, parent_module: str, parent_id: str
    ) -> None:
        """A generated call happens 1 to 72 hours after its parent was created."""
        state = self._modules.get(parent_module)
        parent = state.records.get(parent_id) if state else None
        if parent is None or "Call_Start_Time" in record.overrides:
            return
        hours = 1 + (record.index * 7919 + int(parent_id[-6:])) % 72
        values["Call_Start_Time"] = render(parent.created + hours * 3600, self.config.timezone)

    def live_record(self, module: str, record_id: str) -> Record | None:
        """A live record of a module by id, or None."""
        with self.lock:
            return self._state(module).records.get(str(record_id))

    def _module_holding(self, record_id: str | None) -> str | None:
        """The module of a record id (live or deleted), for ``$se_module``."""
        for name, state in self._modules.items():
            if record_id in state.records:
                return name
        return None

    def render(
        self, module: ModuleDef, record: Record, fields: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """Render a record for a list response: ``id``, the asked fields, ``$`` system keys.

        Args:
            module: The record's module.
            record: The record.
            fields: Field API names to include, or None for every field.

        Returns:
            The record as JSON-ready dict.
        """
        with self.lock:
            values = self._memo_values(module, record)
        all_names, currency = self._layout(module)
        names = all_names if fields is None else fields
        get = values.get
        out: dict[str, Any] = {"id": record.id}
        for name in names:
            if name != "id":
                out[name] = get(name)
        out["$approved"] = True
        out["$editable"] = True
        out["$state"] = "save"
        out["$approval_state"] = "approved"
        if currency:
            out["$currency_symbol"] = "$"
        if module.api_name == "Leads":
            out["$converted"] = record.converted_at is not None
        if parent_field(module) is not None:
            out["$se_module"] = get("$se_module")
        return out

    def values_of(self, module: ModuleDef, record: Record) -> dict[str, Any]:
        """Every rendered value of a live record (memoized; do not modify the result)."""
        with self.lock:
            return self._memo_values(module, record)

    def clock(self) -> int:
        """The server's current second: never behind the newest write.

        A write is stamped ``max(now, newest + 1)``, so every later write lands at or after
        this second; clients that read up to (excluding) it miss nothing.
        """
        with self.lock:
            return max(int(time.time()), self._newest + 1)

    def _memo_values(self, module: ModuleDef, record: Record) -> dict[str, Any]:
        """Return ``values`` of a live record, memoized on the record (call under the lock).

        Every mutation that touches a record clears ``record.rendered``; the memo also
        remembers the time zone it was rendered in. Callers must not modify the result.
        """
        memo = record.rendered
        tz = self.config.timezone
        if memo is not None and memo.get(_MEMO_TZ) == tz:
            return memo
        memo = self.values(module, record)
        memo[_MEMO_TZ] = tz
        record.rendered = memo
        return memo

    def _layout(self, module: ModuleDef) -> tuple[list[str], bool]:
        """Return a module's field names in order and whether it has a currency field."""
        layout = self._layouts.get(module.api_name)
        if layout is None:
            layout = (
                [f.api_name for f in module.fields],
                any(f.data_type == "currency" for f in module.fields),
            )
            self._layouts[module.api_name] = layout
        return layout

    def render_deletion(self, deletion: Deletion) -> dict[str, Any]:
        """Render a deleted-record entry as ``/{Module}/deleted`` does."""
        return {
            "id": deletion.id,
            "deleted_time": render(deletion.deleted_time, self.config.timezone),
            "deleted_by": deletion.deleted_by,
            "display_name": deletion.display_name,
            "type": deletion.type,
            "created_by": deletion.created_by,
        }

    # --- Queries --------------------------------------------------------------------

    def query(
        self,
        module: str,
        *,
        sort_by: str = "id",
        sort_order: str = "desc",
        converted: str = "false",
        since: int | None = None,
        ids: tuple[str, ...] | None = None,
    ) -> list[Record]:
        """Return the records a Get Records call selects, in response order.

        Sorting compares instants (epoch seconds), never rendered strings, with the id as
        tie-breaker so that records sharing a second keep a stable order across pages.

        Args:
            module: Module API name.
            sort_by: ``id``, ``Created_Time`` or ``Modified_Time``.
            sort_order: ``asc`` or ``desc``.
            converted: For Leads: ``false`` (default), ``true`` or ``both``.
            since: If-Modified-Since as epoch seconds: keep records modified strictly later.
            ids: Only these record ids.

        Returns:
            The matching records. The list is shared with the cache: do not modify it.
        """
        with self.lock:
            state = self._state(module)
            key = (
                state.definition.api_name,
                state.version,
                sort_by,
                sort_order,
                converted,
                since,
                ids,
            )
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
            if since is not None and ids is None and sort_by == "Modified_Time":
                # Every keyset page is a new If-Modified-Since: cut the module's sorted
                # listing (cached) instead of sorting it again, as an index would.
                full = self.query(module, sort_by=sort_by, sort_order="asc", converted=converted)
                times = self._times.get((key[0], state.version, converted))
                if times is None or len(times) != len(full):
                    times = [r.modified for r in full]
                    self._times[(key[0], state.version, converted)] = times
                result = full[bisect.bisect_right(times, since) :]
                if sort_order == "desc":
                    result = list(reversed(result))
                self._cache[key] = result
                if len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
                return result
            records: Iterable[Record] = state.records.values()
            if ids is not None:
                wanted = set(ids)
                records = (r for r in records if r.id in wanted)
            if state.definition.api_name == "Leads" and converted != "both":
                want_converted = converted == "true"
                records = (r for r in records if (r.converted_at is not None) == want_converted)
            if since is not None:
                records = (r for r in records if r.modified > since)
            if sort_by == "Modified_Time":
                result = sorted(records, key=lambda r: (r.modified, int(r.id)))
            elif sort_by == "Created_Time":
                result = sorted(records, key=lambda r: (r.created, int(r.id)))
            else:
                result = sorted(records, key=lambda r: int(r.id))
            if sort_order == "desc":
                result.reverse()
            self._cache[key] = result
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
            return result

    def deleted(
        self, module: str, *, kind: str = "all", since: int | None = None
    ) -> list[Deletion]:
        """Return deleted-record entries, newest deletion first.

        Args:
            module: Module API name.
            kind: ``all``, ``recycle`` or ``permanent``.
            since: If-Modified-Since as epoch seconds: keep entries deleted strictly later.
        """
        with self.lock:
            entries = [
                d
                for d in self._state(module).deletions
                if (kind == "all" or d.type == kind) and (since is None or d.deleted_time > since)
            ]
        entries.sort(key=lambda d: (d.deleted_time, int(d.id)), reverse=True)
        return entries

    def all_records(self, module: str) -> list[dict[str, Any]]:
        """Return every live record of a module with every field, ordered by id (ground truth)."""
        with self.lock:
            definition = self.module(module)
            records = sorted(self._state(module).records.values(), key=lambda r: int(r.id))
            return [self.render(definition, r) for r in records]

    def all_deletions(self, module: str) -> list[dict[str, Any]]:
        """Return every deleted-record entry of a module, newest first (ground truth)."""
        return [self.render_deletion(d) for d in self.deleted(module)]

    def snapshot(self, module: str) -> list[Record]:
        """Return copies of a module's live records, ordered by id (a Bulk Read's view).

        Copies, so that rendering them later (outside the lock) shows the data as it was.
        """
        with self.lock:
            records = sorted(self._state(module).records.values(), key=lambda r: int(r.id))
            return [
                Record(r.id, r.index, r.created, r.modified, r.converted_at, dict(r.overrides))
                for r in records
            ]

    def find(self, module: str, record_id: str) -> Record | None:
        """Return a live record by id, or None."""
        with self.lock:
            return self._state(module).records.get(record_id)

    def count(self, module: str) -> int:
        """Return how many live records a module holds."""
        with self.lock:
            return len(self._state(module).records)

    # --- Mutations ------------------------------------------------------------------

    def mutate(
        self,
        action: str,
        *,
        module: str = "Leads",
        count: int = 1,
        ids: Sequence[str] | None = None,
        **kw: Any,
    ) -> list[str]:
        """Change the org between syncs, the way users and Zoho itself would.

        Args:
            action: ``edit``, ``create``, ``delete``, ``convert``, ``formula`` or
                ``line_items`` (a parent's subform rows: one removed, one added, one changed).
            module: Module API name.
            count: How many records to pick at random when ``ids`` is not given.
            ids: The records to change (``create`` ignores it).
            **kw: ``values`` (dict) for edit/create; ``modified`` (epoch) for edit,
                ``created`` (epoch) for create; ``type`` (recycle|permanent) for delete;
                ``at`` (epoch), ``deal`` (bool) and ``amount`` for convert; ``field`` and
                ``delta`` for formula.

        Returns:
            Ids of the affected records (for ``convert``, the leads).

        Raises:
            MutationError: For an unknown action, a wrong module or bad arguments.
        """
        if action not in ACTIONS:
            raise MutationError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
        with self.lock:
            definition = find_module(module)
            if definition is None or definition.api_name not in self._modules:
                raise MutationError(f"unknown or unsupported module {module!r}")
            state = self._modules[definition.api_name]
            handler = getattr(self, f"_{action}")
            changed: list[str] = handler(state, count, ids, **kw)
            state.version += 1
            self._cache.clear()
            self._times.clear()
            return changed
