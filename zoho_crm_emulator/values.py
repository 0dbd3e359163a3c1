"""Field values of one record, derived from the seed, its module and its index.

``generate_org`` (data.py) draws only ids and timestamps; :class:`ValueGenerator` renders
the rest of a record when a response needs it, so the same seed always renders the same
values, whether a record is read once or many times.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.data import (
    DEPARTMENTS,
    LOCATIONS,
    NULL_FRACTION,
    STREETS,
    TAGS,
    USERS,
    company_name,
    display_name,
    mix,
    module_code,
    person_name,
)
from zoho_crm_emulator.fielddefs import ACTIVITY_PARENTS, CORE_FIELDS, FieldDef, ModuleDef
from zoho_crm_emulator.model import Record
from zoho_crm_emulator.timeutil import parse_iso, render, render_date
from zoho_crm_emulator.words import TITLES, WORDS

_Gen = Callable[[random.Random, dict[str, Any]], Any]
#: Context keys handed to generators besides field values.
_CONTEXT_KEYS = ("_index", "_record", "_person", "_slug", "_loc")


class ValueGenerator:
    """Derives a record's field values from the seed, its module and its index.

    Each module's fields are compiled once into small closures that draw from the record's
    random stream with ``random()`` only (the cheapest draw), which keeps rendering a page of
    200 wide records in the low milliseconds.

    Args:
        config: Seed, time zone and time range of the org.
        lookup_pools: For each module, the (index, id) pairs lookups may point at. Frozen at
            startup so that records created later never change earlier records' values.
    """

    def __init__(
        self, config: EmulatorConfig, lookup_pools: dict[str, list[tuple[int, str]]]
    ) -> None:
        self.seed = config.seed
        self.tz = config.timezone
        self.start = parse_iso(config.start)
        self.end = parse_iso(config.end)
        self.lookup_pools = lookup_pools
        self._compiled: dict[str, list[tuple[str, _Gen, bool]]] = {}

    def base_values(self, module: ModuleDef, record: Record) -> dict[str, Any]:
        """Return every generated field value of a record, before overrides and formulas.

        Args:
            module: The record's module definition.
            record: The record; its index seeds the values.

        Returns:
            API name to value for every non-core, non-formula field.
        """
        rng = random.Random(mix(self.seed, module_code(module.api_name), record.index))
        values = self._context(module, record, rng)
        rand = rng.random
        for name, gen, nullable in self._program(module):
            if nullable and rand() < NULL_FRACTION:
                values[name] = None
            else:
                values[name] = gen(rng, values)
        for key in _CONTEXT_KEYS:
            del values[key]
        return values

    def fresh_value(
        self, module: ModuleDef, f: FieldDef, record: Record, rng: random.Random
    ) -> Any:
        """Return a newly drawn value for one field of an existing record (for edits).

        Args:
            module: The record's module.
            f: The field to draw a value for.
            record: The record; its name and location shape the value.
            rng: The mutation random stream, so that edits are reproducible.

        Returns:
            A value of the field's type (never the null that generation sometimes picks).
        """
        context = self._context(module, record, rng)
        context.update(self.base_values(module, record))
        return self._generator(module, f)(rng, context)

    def _context(self, module: ModuleDef, record: Record, rng: random.Random) -> dict[str, Any]:
        person = person_name(self.seed, module.api_name, record.index)
        return {
            "_index": record.index,
            "_record": record,
            "_person": person,
            "_slug": f"{person[0]}.{person[1]}".lower(),
            "_loc": LOCATIONS[int(rng.random() * len(LOCATIONS))],
        }

    def _program(self, module: ModuleDef) -> list[tuple[str, _Gen, bool]]:
        """Return (api_name, generator, nullable) for every generated field, compiled once."""
        program = self._compiled.get(module.api_name)
        if program is None:
            program = []
            for f in module.fields:
                if f.api_name in CORE_FIELDS or f.data_type == "formula":
                    continue
                nullable = not (f.mandatory or f.read_only) and f.api_name != "Tag"
                # Every record has an owner; booleans and multi-selects are never null.
                nullable = nullable and f.data_type not in (
                    "boolean",
                    "multiselectpicklist",
                    "ownerlookup",
                )
                nullable = nullable and f.api_name != module.display_field
                program.append((f.api_name, self._generator(module, f), nullable))
            self._compiled[module.api_name] = program
        return program

    def _generator(self, module: ModuleDef, f: FieldDef) -> _Gen:
        """Return the closure that draws one field's value."""
        seed, tz, start, end = self.seed, self.tz, self.start, self.end
        span = end - start
        name, t = f.api_name, f.data_type

        def pick(seq: Sequence[Any]) -> Callable[[random.Random], Any]:
            n = len(seq)
            return lambda r: seq[int(r.random() * n)]

        if name == module.display_field and name != "Full_Name":
            mod = module.api_name
            return lambda r, v: display_name(seed, mod, v["_index"])
        by_name: dict[str, _Gen] = {
            "First_Name": lambda r, v: v["_person"][0],
            "Last_Name": lambda r, v: v["_person"][1],
            "Full_Name": lambda r, v: f"{v.get('First_Name') or ''} {v['Last_Name']}".strip(),
            "Company": lambda r, v: company_name(seed, "Company", v["_index"]),
            "Skype_ID": lambda r, v: f"{v['_slug']}.{int(r.random() * 99) + 1}",
            "Twitter": lambda r, v: f"@{v['_slug'].replace('.', '_')}",
            "Call_Duration": lambda r, v: f"{int(r.random() * 60):02d}:{int(r.random() * 60):02d}",
            "Call_Duration_in_seconds": _call_seconds,
            "Product_Code": lambda r, v: f"PRD-{1000 + int(r.random() * 9000)}",
            "Expected_Revenue": _expected_revenue,
            "Sub_Total": lambda r, v: round(500 + r.random() * 49_500, 2),
            "Grand_Total": lambda r, v: round(
                (v.get("Sub_Total") or 0) - (v.get("Discount") or 0) + (v.get("Tax") or 0), 2
            ),
            "No_of_Employees": lambda r, v: 1 + int(r.random() * 5000),
            "Employees": lambda r, v: 1 + int(r.random() * 20_000),
            "Last_Activity_Time": self._activity_time,
            "Closed_Time": lambda r, v: None if r.random() < 0.5 else self._activity_time(r, v),
            "End_DateTime": self._meeting_end,
            "Tag": _tags,
        }
        if name in by_name:
            return by_name[name]
        if name in ("Designation", "Title"):
            titles = pick([title.replace("-", " ") for title in TITLES])
            return lambda r, v: titles(r)
        if name == "Department":
            departments = pick(DEPARTMENTS)
            return lambda r, v: departments(r)
        if name == "Probability":
            probabilities = pick((10.0, 20.0, 40.0, 60.0, 75.0, 90.0, 100.0))
            return lambda r, v: probabilities(r)
        if t in ("text", "textarea"):
            for suffix, position in (("City", 0), ("State", 1), ("Zip", 2), ("Code", 2)):
                if name.endswith(suffix):
                    return _location_part(position)
            if name.endswith("Country"):
                return _location_part(3)
            if name.endswith("Street"):
                street = pick(STREETS)
                return lambda r, v: f"{1 + int(r.random() * 9999)} {street(r)}"
            word = pick(WORDS)
            low, high = (8, 30) if t == "textarea" else (1, 3)
            return lambda r, v: " ".join(
                word(r) for _ in range(low + int(r.random() * (high - low + 1)))
            ).capitalize()
        if t == "email":
            prefix = "alt." if name.startswith("Secondary") else ""
            return lambda r, v: f"{prefix}{v['_slug']}{v['_index']}@example.com"
        if t == "phone":
            return lambda r, v: (
                f"+1-{200 + int(r.random() * 800)}-555-{int(r.random() * 10_000):04d}"
            )
        if t == "website":
            return lambda r, v: (
                f"https://www.{v['_slug'].split('.')[-1]}{int(r.random() * 999)}.example.com"
            )
        if t == "picklist":
            option = pick(f.picklist)
            return lambda r, v: option(r)
        if t == "multiselectpicklist":
            options = f.picklist
            return lambda r, v: [o for o in options if r.random() < 0.3]
        if t == "integer":
            return lambda r, v: int(r.random() * 10_001)
        if t == "bigint":
            return lambda r, v: str(10**12 + int(r.random() * 9 * 10**15))
        if t in ("double", "decimal"):
            return lambda r, v: round(r.random() * 1000, 2)
        if t == "currency":
            return lambda r, v: round(1_000 + r.random() * 499_000, 2)
        if t == "percent":
            return lambda r, v: round(r.random() * 100, 1)
        if t == "autonumber":
            prefix = f.api_name[:3].upper()
            return lambda r, v: f"{prefix}-{v['_index'] + 1:06d}"
        if t == "date":
            return lambda r, v: render_date(start + int(r.random() * span), tz)
        if t == "datetime":
            return lambda r, v: render(start + int(r.random() * span), tz)
        if t == "boolean":
            return lambda r, v: r.random() < 0.3
        if t == "ownerlookup":
            return lambda r, v: dict(USERS[int(r.random() * len(USERS))])
        if t == "lookup":
            target = f.lookup or ""
            return lambda r, v: self.lookup_value(target, r)
        if t == "subform":
            return lambda r, v: None  # Get Records lists omit subforms (see subforms.py)
        raise ValueError(f"no generator for data type {t}")

    def lookup_value(self, target: str, rng: random.Random) -> dict[str, str] | None:
        """Return ``{name, id}`` of a random record of the target module, or None."""
        pool = self.lookup_pools.get(target) or []
        if not pool:
            return None
        index, record_id = pool[int(rng.random() * len(pool))]
        return {"name": display_name(self.seed, target, index), "id": record_id}

    def conversion_links(self, record: Record) -> dict[str, dict[str, str] | None]:
        """``Converted_Account/Contact/Deal`` of a lead (null unless converted).

        A lead generated converted points at existing records; one in five has no deal.
        """
        if record.converted_at is None:
            return dict.fromkeys(("Converted_Account", "Converted_Contact", "Converted_Deal"))
        rng = random.Random(mix(self.seed, module_code("Converted"), record.index))
        return {
            "Converted_Account": self.lookup_value("Accounts", rng),
            "Converted_Contact": self.lookup_value("Contacts", rng),
            "Converted_Deal": None if rng.random() < 0.2 else self.lookup_value("Deals", rng),
        }

    def activity_parent(
        self, module: ModuleDef, record: Record
    ) -> tuple[str, dict[str, str] | None]:
        """The module and ``{name, id}`` of an activity's parent (``What_Id``)."""
        rng = random.Random(mix(self.seed, module_code(module.api_name + ".What"), record.index))
        draw = rng.random()
        for parent_module, share in ACTIVITY_PARENTS:
            if draw < share:
                return parent_module, self.lookup_value(parent_module, rng)
            draw -= share
        return ACTIVITY_PARENTS[-1][0], self.lookup_value(ACTIVITY_PARENTS[-1][0], rng)

    def formula_value(self, f: FieldDef, values: dict[str, Any], record: Record) -> Any:
        """Return a formula field's value computed from the record's current values.

        ``Lead_Age_Days`` counts days from creation to the end of the data range;
        ``Budget_Remaining`` is Budget minus Spent. Mutations may override either.
        """
        if f.api_name == "Budget_Remaining":
            budget, spent = values.get("Budget"), values.get("Spent")
            if budget is None or spent is None:
                return None
            return round(budget - spent, 2)
        return round((self.end - record.created) / 86_400, 2)

    def _activity_time(self, rng: random.Random, values: dict[str, Any]) -> str:
        record: Record = values["_record"]
        # From the record's creation, not its modification: an edit is not an activity here.
        moment = record.created + int(rng.random() * max(0, self.end - record.created))
        return render(moment, self.tz)

    def _meeting_end(self, rng: random.Random, values: dict[str, Any]) -> str | None:
        begin = values.get("Start_DateTime")
        if begin is None:
            return None
        return render(parse_iso(begin) + 1800 * (1 + int(rng.random() * 4)), self.tz)


def _location_part(position: int) -> _Gen:
    """Return a generator of one part (city, state, zip, country) of the record's location."""
    return lambda r, v: v["_loc"][position]


def _tags(rng: random.Random, values: dict[str, Any]) -> list[dict[str, str]]:
    return [dict(tag) for tag in TAGS if rng.random() < 0.2]


def _call_seconds(rng: random.Random, values: dict[str, Any]) -> int | None:
    duration = values.get("Call_Duration")
    if not duration:
        return None
    minutes, seconds = duration.split(":")
    return int(minutes) * 60 + int(seconds)


def _expected_revenue(rng: random.Random, values: dict[str, Any]) -> float | None:
    amount, probability = values.get("Amount"), values.get("Probability")
    if amount is None or probability is None:
        return None
    return round(amount * probability / 100, 2)
