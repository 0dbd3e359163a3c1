"""How the org changes between syncs: edits, creations, deletions, conversions, formulas.

A mixin of :class:`~zoho_crm_emulator.store.Store` (which holds the records and calls these
under its lock); every change leaves the trail Zoho would: ``Modified_Time``, a timeline event,
a stage-history row, a recycle-bin entry.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

from zoho_crm_emulator import related
from zoho_crm_emulator.data import API_USER
from zoho_crm_emulator.fielddefs import FieldDef, ModuleDef
from zoho_crm_emulator.model import Deletion, ModuleState, Record
from zoho_crm_emulator.subforms import SubformRows
from zoho_crm_emulator.values import ValueGenerator

#: Fields a timeline event does not list (every edit moves them).
_AUDIT_FIELDS = frozenset({"Modified_By", "Modified_Time", "Created_By", "Created_Time"})


#: Share of conversions that also create a deal (Zoho's "create a new deal" box).
DEAL_ON_CONVERSION = 0.8
#: Data types an ``edit`` may change; names and system fields stay put so lookups agree.
_EDITABLE_TYPES = frozenset(
    {
        "text",
        "textarea",
        "email",
        "phone",
        "website",
        "picklist",
        "multiselectpicklist",
        "integer",
        "double",
        "currency",
        "percent",
        "decimal",
        "date",
        "boolean",
    }
)
_NAME_FIELDS = frozenset({"First_Name", "Last_Name", "Full_Name"})
#: Lead fields copied onto the Contact that a conversion creates.
_CONVERTED_COPY = {
    "Salutation": "Salutation",
    "First_Name": "First_Name",
    "Last_Name": "Last_Name",
    "Full_Name": "Full_Name",
    "Email": "Email",
    "Secondary_Email": "Secondary_Email",
    "Phone": "Phone",
    "Mobile": "Mobile",
    "Lead_Source": "Lead_Source",
    "Email_Opt_Out": "Email_Opt_Out",
    "Description": "Description",
    "Owner": "Owner",
    "Designation": "Title",
    "Street": "Mailing_Street",
    "City": "Mailing_City",
    "State": "Mailing_State",
    "Zip_Code": "Mailing_Zip",
    "Country": "Mailing_Country",
}


class MutationError(ValueError):
    """A mutation request that cannot be carried out (unknown action, wrong module...)."""


class Mutations:
    """The mutation handlers (``_edit``, ``_create``, ...) of the store."""

    _modules: dict[str, ModuleState]
    _rng: random.Random
    _newest: int
    _last_id: int
    generator: ValueGenerator
    subforms: SubformRows

    def values(self, module: ModuleDef, record: Record) -> dict[str, Any]:
        """Every field value of a record (the store's)."""
        raise NotImplementedError

    def _next_ts(self) -> int:
        """Return the next mutation timestamp: strictly after everything in the store."""
        self._newest = max(int(time.time()), self._newest + 1)
        return self._newest

    def _next_id(self) -> str:
        self._last_id += self._rng.randint(1, 9)
        return str(self._last_id)

    def _targets(
        self,
        state: ModuleState,
        count: int,
        ids: Sequence[str] | None,
        eligible: Any = None,
    ) -> list[Record]:
        """Return the records a mutation applies to: the given ids, or ``count`` at random."""
        if ids:
            missing = [i for i in ids if str(i) not in state.records]
            if missing:
                raise MutationError(f"no live {state.definition.api_name} records {missing}")
            return [state.records[str(i)] for i in ids]
        pool = [r for r in state.records.values() if eligible is None or eligible(r)]
        pool.sort(key=lambda r: int(r.id))
        return self._rng.sample(pool, min(max(0, int(count)), len(pool)))

    def _check_values(self, definition: ModuleDef, values: dict[str, Any]) -> None:
        for name in values:
            f = definition.by_name.get(name)
            if f is None or f.api_name in ("Created_Time", "Modified_Time"):
                raise MutationError(f"{definition.api_name} has no writable field {name!r}")

    def _edit(
        self,
        state: ModuleState,
        count: int,
        ids: Sequence[str] | None,
        values: dict[str, Any] | None = None,
        modified: int | None = None,
    ) -> list[str]:
        definition = state.definition
        if values:
            self._check_values(definition, values)
        editable = [
            f
            for f in definition.fields
            if f.data_type in _EDITABLE_TYPES
            and not (f.read_only or f.mandatory)
            and f.api_name not in _NAME_FIELDS
            and f.api_name != definition.display_field
            and f.api_name != "Tag"
        ]
        changed = []
        for record in self._targets(state, count, ids):
            before = dict(self.values(definition, record))
            stages = None
            if definition.api_name == "Deals":
                stages = record.overrides.get(related.STAGES_KEY) or related.generated_stages(
                    record.id, record, before
                )
            if values:
                record.overrides.update(values)
            else:
                for f in self._rng.sample(editable, min(len(editable), self._rng.randint(1, 3))):
                    record.overrides[f.api_name] = self._different(definition, f, record, before)
            record.overrides["Modified_By"] = dict(API_USER)
            # ``modified``: a clock gone wrong (a record dated in year 9999, say).
            record.modified = self._next_ts() if modified is None else int(modified)
            record.rendered = None
            after = self.values(definition, record)
            record.rendered = None
            changes = {
                f.api_name: (before.get(f.api_name), after.get(f.api_name))
                for f in definition.fields
                if f.api_name not in _AUDIT_FIELDS
                and before.get(f.api_name) != after.get(f.api_name)
            }
            related.note_event(record, "updated", changes)
            if stages is not None and before.get("Stage") != after.get("Stage"):
                related.stage_changed(record, stages, after)
            changed.append(record.id)
        return changed

    def _different(
        self, definition: ModuleDef, f: FieldDef, record: Record, current: dict[str, Any]
    ) -> Any:
        """Draw a value for a field that differs from its current one, so edits show."""
        if f.data_type == "boolean":
            return not current.get(f.api_name)
        value = current.get(f.api_name)
        for _ in range(10):
            value = self.generator.fresh_value(definition, f, record, self._rng)
            if value != current.get(f.api_name):
                break
        return value

    def _create(
        self,
        state: ModuleState,
        count: int,
        ids: Sequence[str] | None,
        values: dict[str, Any] | None = None,
        created: int | None = None,
    ) -> list[str]:
        if values:
            self._check_values(state.definition, values)
        made = []
        for _ in range(max(0, int(count))):
            record = self._new_record(state)
            if created is not None:  # a record entered with a past date (tests, backfills)
                record.created = record.modified = int(created)
            if values:
                record.overrides.update(values)
            record.rendered = None
            made.append(record.id)
        return made

    def _new_record(self, state: ModuleState) -> Record:
        ts = self._next_ts()
        record = Record(self._next_id(), state.next_index, ts, ts)
        state.next_index += 1
        record.overrides["Created_By"] = dict(API_USER)
        record.overrides["Modified_By"] = dict(API_USER)
        state.records[record.id] = record
        return record

    def _delete(
        self,
        state: ModuleState,
        count: int,
        ids: Sequence[str] | None,
        type: str = "recycle",
    ) -> list[str]:
        if type not in ("recycle", "permanent"):
            raise MutationError(f"delete type must be recycle or permanent, not {type!r}")
        definition = state.definition
        deleted = []
        for record in self._targets(state, count, ids):
            values = self.values(definition, record)
            creator = values.get("Created_By") or API_USER
            state.deletions.append(
                Deletion(
                    id=record.id,
                    deleted_time=self._next_ts(),
                    deleted_by={"name": API_USER["name"], "id": API_USER["id"]},
                    display_name=str(values.get(definition.display_field) or record.id),
                    type=type,
                    created_by={"name": creator["name"], "id": creator["id"]},
                )
            )
            del state.records[record.id]
            record.rendered = None
            deleted.append(record.id)
        return deleted

    def _convert(
        self,
        state: ModuleState,
        count: int,
        ids: Sequence[str] | None,
        at: int | None = None,
        deal: bool | None = None,
        amount: float | None = None,
    ) -> list[str]:
        """Convert leads (``at``: when; ``deal``: force or skip the deal; its ``amount``)."""
        if state.definition.api_name != "Leads":
            raise MutationError("only Leads can be converted")
        contacts, accounts = self._modules["Contacts"], self._modules["Accounts"]
        deals = self._modules["Deals"]
        converted = []
        for lead in self._targets(state, count, ids, eligible=lambda r: r.converted_at is None):
            if lead.converted_at is not None:
                continue
            values = self.values(state.definition, lead)
            ts = self._next_ts() if at is None else int(at)
            lead.converted_at = ts
            lead.modified = ts
            lead.overrides["Modified_By"] = dict(API_USER)
            lead.rendered = None
            # A conversion makes a contact, an account (the lead's company) and, unless the
            # user unticks it, a deal: each a real record of its module.
            account = self._new_record(accounts)
            company = values.get("Company") or values.get("Last_Name") or "Account"
            account.overrides["Account_Name"] = company
            account.overrides["Owner"] = values.get("Owner")
            contact = self._new_record(contacts)
            for source, target in _CONVERTED_COPY.items():
                contact.overrides[target] = values.get(source)
            contact.overrides["Account_Name"] = {"name": company, "id": account.id}
            name = values.get("Full_Name") or values.get("Last_Name")
            links = {
                "Converted_Account": {"name": company, "id": account.id},
                "Converted_Contact": {"name": name, "id": contact.id},
                "Converted_Deal": None,
            }
            with_deal = self._rng.random() < DEAL_ON_CONVERSION if deal is None else deal
            if with_deal:
                made = self._new_record(deals)
                deal_name = f"{company} - {values.get('Last_Name') or 'deal'}"
                made.overrides.update(
                    {
                        "Deal_Name": deal_name,
                        "Account_Name": links["Converted_Account"],
                        "Contact_Name": links["Converted_Contact"],
                        "Lead_Source": values.get("Lead_Source"),
                        "Owner": values.get("Owner"),
                        "Stage": "Qualification",
                        "Amount": (
                            round(1_000 + self._rng.random() * 99_000, 2)
                            if amount is None
                            else float(amount)
                        ),
                    }
                )
                links["Converted_Deal"] = {"name": deal_name, "id": made.id}
            lead.overrides.update(links)
            related.note_event(lead, "converted", {"Converted__s": (False, True)})
            converted.append(lead.id)
        if converted:
            for created in (contacts, accounts, deals):
                created.version += 1
        return converted

    def _formula(
        self,
        state: ModuleState,
        count: int,
        ids: Sequence[str] | None,
        field: str | None = None,
        delta: float = 1.0,
    ) -> list[str]:
        definition = state.definition
        formulas = definition.formula_fields()
        if field is not None:
            formulas = [f for f in formulas if f.api_name == field]
        if not formulas:
            raise MutationError(f"{definition.api_name} has no formula field {field or ''}".strip())
        changed = []
        for record in self._targets(state, count, ids):
            values = self.values(definition, record)
            for f in formulas:
                old = values.get(f.api_name)
                record.overrides[f.api_name] = round((old or 0.0) + float(delta), 2)
            record.rendered = None
            changed.append(record.id)
        return changed

    def _line_items(self, state: ModuleState, count: int, ids: Sequence[str] | None) -> list[str]:
        """A user edits a parent's line items: one row removed, one added, one changed."""
        definition = state.definition
        subform = next((f.api_name for f in definition.fields if f.data_type == "subform"), None)
        if subform is None:
            raise MutationError(f"{definition.api_name} has no subform")
        changed = []
        for record in self._targets(state, count, ids):
            name = self.values(definition, record).get(definition.display_field)
            rows = self.subforms.rows_of(subform, record, name)
            self.subforms.change(self._rng, record, rows, subform)
            record.overrides["Modified_By"] = dict(API_USER)
            record.modified = self._next_ts()
            record.rendered = None
            related.note_event(record, "updated", {subform: (len(rows), "changed")})
            changed.append(record.id)
        return changed
