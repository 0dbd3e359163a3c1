"""Subforms (line items): ``Quoted_Items`` rows of each quote, served as their own COQL module.

Get Records lists a quote without its subform (as Zoho's list API does); COQL reads
``Quoted_Items`` like a module whose rows carry ``id`` and ``Parent_Id``. Rows are generated
from the quote's seed (1 to 4 per quote) until a ``line_items`` mutation replaces them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from zoho_crm_emulator.data import mix, module_code
from zoho_crm_emulator.fielddefs import FieldDef, ModuleDef
from zoho_crm_emulator.model import Record
from zoho_crm_emulator.values import ValueGenerator

__all__ = ["SUBFORMS", "SubformRows"]

#: Subform module -> (parent module, the parent's subform field).
PARENTS: dict[str, tuple[str, str]] = {
    "Quoted_Items": ("Quotes", "Quoted_Items"),
    "Renewals": ("Accounts", "Renewals"),  # a custom subform
}
#: Override key of a parent record whose rows a mutation replaced.
ROWS_KEY = "_subform_rows"
_NEXT_KEY = "_subform_next"

_ID_BASE = 5_725_767_000_900_000_000

QUOTED_ITEMS = ModuleDef(
    "Quoted_Items",
    "Quoted Item",
    "Quoted Items",
    display_field="Product_Name",
    generated_type="subform",
    fields=(
        FieldDef("Product_Name", "lookup", "Product Name", lookup="Products"),
        FieldDef("Quantity", "double"),
        FieldDef("List_Price", "currency"),
        FieldDef("Discount", "currency"),
        FieldDef("Total", "currency", read_only=True),
        FieldDef("Description", "textarea"),
        FieldDef("Sequence_Number", "integer", read_only=True),
        FieldDef("Parent_Id", "lookup", "Parent", read_only=True, lookup="Quotes"),
    ),
)
RENEWALS = ModuleDef(
    "Renewals",
    "Renewal",
    "Renewals",
    display_field="Plan",
    generated_type="subform",
    fields=(
        FieldDef("Plan", "picklist", custom=True, picklist=("Basic", "Pro", "Enterprise")),
        FieldDef("Renewal_Date", "date", custom=True),
        FieldDef("Amount", "currency", custom=True),
        FieldDef("Signed", "boolean", custom=True),
        FieldDef("Parent_Id", "lookup", "Parent", read_only=True, lookup="Accounts"),
    ),
)
SUBFORMS: dict[str, ModuleDef] = {"Quoted_Items": QUOTED_ITEMS, "Renewals": RENEWALS}


class SubformRows:
    """The rows of one subform, per live parent record."""

    def __init__(self, generator: ValueGenerator) -> None:
        self.generator = generator

    def rows_of(self, subform: str, parent: Record, parent_name: Any) -> list[dict[str, Any]]:
        """A parent's rows (generated, or as the last mutation left them)."""
        stored = parent.overrides.get(ROWS_KEY)
        rows = stored if stored is not None else self._generated(subform, parent)
        link = {"name": parent_name, "id": parent.id}
        return [{**row, "Parent_Id": link} for row in rows]

    def _generated(self, subform: str, parent: Record) -> list[dict[str, Any]]:
        rng = random.Random(mix(self.generator.seed, module_code(subform), parent.index))
        return [self.new_row(rng, parent, n, subform) for n in range(1 + parent.index % 4)]

    def new_row(
        self, rng: random.Random, parent: Record, number: int, subform: str
    ) -> dict[str, Any]:
        """One row: a quoted item (Total = quantity x price - discount) or a renewal."""
        if subform == "Renewals":
            return {
                "id": str(_ID_BASE + 500_000_000 + parent.index * 64 + number),
                "Plan": rng.choice(("Basic", "Pro", "Enterprise")),
                "Renewal_Date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "Amount": round(rng.uniform(500, 50_000), 2),
                "Signed": rng.random() < 0.5,
            }
        quantity = float(rng.randint(1, 20))
        price = round(rng.uniform(5, 900), 2)
        discount = round(price * quantity * rng.choice((0, 0, 0.05, 0.1)), 2)
        return {
            "id": str(_ID_BASE + parent.index * 64 + number),
            "Product_Name": self.generator.lookup_value("Products", rng),
            "Quantity": quantity,
            "List_Price": price,
            "Discount": discount,
            "Total": round(quantity * price - discount, 2),
            "Description": None if rng.random() < 0.5 else f"Line {number + 1}",
            "Sequence_Number": number + 1,
        }

    def change(
        self, rng: random.Random, parent: Record, current: list[dict[str, Any]], subform: str
    ) -> None:
        """A user's edit of a parent's line items: one row removed, one added, one changed."""
        rows = [{k: v for k, v in row.items() if k != "Parent_Id"} for row in current]
        if len(rows) > 1:
            rows.pop()
        if rows and subform == "Renewals":
            rows[0]["Signed"] = not rows[0]["Signed"]
        elif rows:
            first = rows[0]
            first["Quantity"] = float(first["Quantity"]) + 1
            first["Total"] = round(first["Quantity"] * first["List_Price"] - first["Discount"], 2)
        # A new row gets a new id (Zoho never reuses one): numbers from 16 on, per parent.
        number = int(parent.overrides.get(_NEXT_KEY, 16))
        parent.overrides[_NEXT_KEY] = number + 1
        added = self.new_row(rng, parent, number, subform)
        added["Sequence_Number"] = len(rows) + 1
        rows.append(added)
        parent.overrides[ROWS_KEY] = rows

    def all_rows(self, subform: str, parents: Iterator[tuple[Record, Any]]) -> list[dict[str, Any]]:
        """Every row of the subform, over the live parents."""
        return [row for parent, name in parents for row in self.rows_of(subform, parent, name)]
