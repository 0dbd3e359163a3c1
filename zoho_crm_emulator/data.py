"""Deterministic generation of the org's records from the seed.

Two stages keep generation fast enough for 100,000-record benchmarks: ``generate_org``
draws only ids and timestamps for every record (a few random numbers each), and
``ValueGenerator`` derives the remaining field values of one record from its own seed when
a response needs them. The same seed therefore always renders the same values, whether a
record is read once or many times.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.metadata import (
    ACTIVITY_PARENTS,
    CORE_FIELDS,
    FieldDef,
    ModuleDef,
    supported_modules,
)
from zoho_crm_emulator.model import Deletion, Record
from zoho_crm_emulator.timeutil import parse_iso, render, render_date, zone
from zoho_crm_emulator.words import (
    COMPANY_A,
    COMPANY_B,
    FIRST_NAMES,
    LAST_NAMES,
    TITLES,
    WORDS,
)

_MASK = (1 << 64) - 1
#: Prefix of every generated record id: 19 digits like Zoho's, unique across modules.
ID_BASE = 5_725_767_000_000_000_000

USERS: tuple[dict[str, str], ...] = (
    {"name": "Patricia Boyle", "id": "5725767000000409001", "email": "patricia.boyle@example.com"},
    {"name": "Kris Marrier", "id": "5725767000000409002", "email": "kris.marrier@example.com"},
    {"name": "Sage Wieser", "id": "5725767000000409003", "email": "sage.wieser@example.com"},
    {"name": "Leota Dilliard", "id": "5725767000000409004", "email": "leota.dilliard@example.com"},
    {"name": "Mitsue Tollner", "id": "5725767000000409005", "email": "mitsue.tollner@example.com"},
)
#: The user the emulator acts as when a mutation changes a record.
API_USER = USERS[0]

COMPANY_C = ("Inc", "LLC", "Ltd", "Corp", "GmbH", "Group", "Co")
DEPARTMENTS = ("Sales", "Marketing", "Engineering", "Finance", "Operations", "Support", "HR")
LOCATIONS: tuple[tuple[str, str, str, str], ...] = (
    ("San Francisco", "CA", "94105", "United States"),
    ("Los Angeles", "CA", "90012", "United States"),
    ("Seattle", "WA", "98101", "United States"),
    ("Austin", "TX", "73301", "United States"),
    ("New York", "NY", "10001", "United States"),
    ("Chicago", "IL", "60601", "United States"),
    ("Boston", "MA", "02108", "United States"),
    ("Denver", "CO", "80202", "United States"),
    ("Toronto", "ON", "M5H 2N2", "Canada"),
    ("London", "Greater London", "EC1A 1BB", "United Kingdom"),
    ("Berlin", "Berlin", "10115", "Germany"),
    ("Chennai", "Tamil Nadu", "600001", "India"),
    ("Sydney", "NSW", "2000", "Australia"),
    ("Tokyo", "Tokyo", "100-0001", "Japan"),
)
STREETS = ("Main St", "Oak Ave", "Pine Rd", "Market St", "Elm St", "Lake Dr", "Hill Blvd")
TAGS: tuple[dict[str, str], ...] = (
    {"name": "Hot", "id": "5725767000000500001"},
    {"name": "Enterprise", "id": "5725767000000500002"},
    {"name": "Follow-up", "id": "5725767000000500003"},
    {"name": "Webinar 2024", "id": "5725767000000500004"},
)
PRODUCT_WORDS = ("Suite", "Platform", "Renewal", "Upgrade", "Licenses", "Rollout", "Services")

#: Share of optional values left empty, as in a real org.
NULL_FRACTION = 0.08


def module_code(module: str) -> int:
    """Return a stable number for a module name, mixed into record seeds."""
    return zlib.crc32(module.encode())


def mix(*parts: int) -> int:
    """Hash integers into a well-spread 64-bit number (splitmix64 steps), stable across runs."""
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = (x ^ (part & _MASK)) & _MASK
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
        x ^= x >> 31
    return x


def person_name(seed: int, module: str, index: int) -> tuple[str, str]:
    """Return (first, last) name of a person record, derived from its index alone.

    Names do not depend on the record's own random stream, so a lookup elsewhere can
    display the same name without generating the whole target record.
    """
    h = mix(seed, module_code(module), index, 1)
    return FIRST_NAMES[h % len(FIRST_NAMES)], LAST_NAMES[(h >> 20) % len(LAST_NAMES)]


def company_name(seed: int, module: str, index: int) -> str:
    """Return a company name derived from a record's index (see ``person_name``)."""
    h = mix(seed, module_code(module), index, 2)
    return (
        f"{COMPANY_A[h % len(COMPANY_A)]} {COMPANY_B[(h >> 16) % len(COMPANY_B)]} "
        f"{COMPANY_C[(h >> 32) % len(COMPANY_C)]}"
    )


def display_name(seed: int, module: str, index: int) -> str:
    """Return the name a record shows in lookups and in the recycle bin."""
    if module in ("Leads", "Contacts"):
        first, last = person_name(seed, module, index)
        return f"{first} {last}"
    if module == "Accounts":
        return company_name(seed, module, index)
    h = mix(seed, module_code(module), index, 3)
    word = PRODUCT_WORDS[h % len(PRODUCT_WORDS)]
    company = company_name(seed, module, index)
    if module == "Deals":
        return f"{company} - {word}"
    if module == "Vendors":
        return f"{company} Supplies"
    if module == "Products":
        return f"{COMPANY_A[(h >> 8) % len(COMPANY_A)]} {word} {h % 97 + 1}"
    if module == "Projects":
        return f"{company.split()[0]} {word} {h % 900 + 100}"
    return f"{WORDS[(h >> 8) % len(WORDS)].title()} {word} #{h % 9000 + 1000}"


@dataclass
class ModuleData:
    """The initial contents of one module.

    Attributes:
        records: Live records in generation order.
        deletions: Deleted-record entries.
        next_index: Generation index of the next record a mutation creates.
    """

    records: list[Record] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    next_index: int = 0


@dataclass
class Org:
    """The whole generated org.

    Attributes:
        modules: Module API name to its data.
        last_id: Largest record id handed out so far (ids grow with creation time).
        newest: Latest timestamp anywhere in the org (Modified_Time or deleted_time).
    """

    modules: dict[str, ModuleData]
    last_id: int
    newest: int


def generate_org(config: EmulatorConfig) -> Org:
    """Draw ids and timestamps of every record, deletion and conversion.

    Args:
        config: The org's seed, sizes, time range and fractions.

    Returns:
        The generated org; field values are derived later by ``ValueGenerator``.
    """
    start, end = parse_iso(config.start), parse_iso(config.end)
    span = max(1, end - start)
    folds = dst_fold_instants(config.timezone, start, end)
    skeletons: dict[str, tuple[list[int], list[int], random.Random]] = {}
    for module in supported_modules():
        name = module.api_name
        live = config.size_of(name)
        total = live + round(live * config.deleted_fraction)
        rng = random.Random(f"{config.seed}:{name}:skeleton")
        rand = rng.random
        created = [start + int(rand() * span * 0.97) for _ in range(total)]
        modified = [c + int((end - c) * rand() ** 3) for c in created]
        if total > 1 and config.shared_second_fraction > 0:
            order = sorted(range(total), key=modified.__getitem__)
            half = config.shared_second_fraction / 2
            for k in range(total - 1):
                if rand() < half:
                    a, b = order[k], order[k + 1]
                    modified[b] = modified[a]
                    created[b] = min(created[b], modified[b])
        if total >= 20:
            # A few records in the repeated hour when DST ends: there the rendered strings
            # sort differently from the instants, which a correct client must survive.
            for fold in folds:
                before, after = rng.sample(range(total), 2)
                modified[before] = fold - 60 - rng.randint(0, 1800)
                modified[after] = fold + rng.randint(0, 1800)
                created[before] = min(created[before], modified[before])
                created[after] = min(created[after], modified[after])
        skeletons[name] = (created, modified, rng)

    # Ids grow with creation time across the whole org, like Zoho's.
    events = sorted(
        (created, code, name, i)
        for code, (name, (created_list, _, _)) in enumerate(skeletons.items())
        for i, created in enumerate(created_list)
    )
    id_rng = random.Random(f"{config.seed}:ids")
    ids: dict[str, list[str]] = {name: [""] * len(s[0]) for name, s in skeletons.items()}
    counter = ID_BASE + 400_000
    for _, _, name, i in events:
        counter += id_rng.randint(1, 9)
        ids[name][i] = str(counter)

    modules: dict[str, ModuleData] = {}
    newest = start
    for name, (created, modified, rng) in skeletons.items():
        total = len(created)
        live = config.size_of(name)
        deleted = set(rng.sample(range(total), total - live))
        data = ModuleData(next_index=total)
        for i in range(total):
            if i in deleted:
                continue
            data.records.append(Record(ids[name][i], i, created[i], modified[i]))
            newest = max(newest, modified[i])
        for i in sorted(deleted):
            when = modified[i] + int((end - modified[i]) * rng.random())
            permanent = rng.random() < 0.3
            data.deletions.append(
                Deletion(
                    id=ids[name][i],
                    deleted_time=when,
                    deleted_by=None if permanent and rng.random() < 0.5 else _named(rng),
                    display_name=display_name(config.seed, name, i),
                    type="permanent" if permanent else "recycle",
                    created_by=_named(rng),
                )
            )
            newest = max(newest, when)
        if name == "Leads" and data.records:
            count = round(len(data.records) * config.converted_fraction)
            for record in rng.sample(data.records, count):
                record.converted_at = max(record.created, record.modified - rng.randint(0, 3600))
        modules[name] = data
    return Org(modules=modules, last_id=counter, newest=newest)


def dst_fold_instants(tz: str, start: int, end: int) -> list[int]:
    """Return the instants within [start, end] at which the zone's UTC offset decreases.

    Local clock times in the hour before such an instant repeat in the hour after it.
    """
    folds = []
    zone_info = zone(tz)
    previous = datetime.fromtimestamp(start, zone_info).utcoffset()
    for hour in range(start - start % 3600 + 3600, end, 3600):
        offset = datetime.fromtimestamp(hour, zone_info).utcoffset()
        if previous is not None and offset is not None and offset < previous:
            folds.append(hour)
        previous = offset
    return folds


def _named(rng: random.Random) -> dict[str, str]:
    """Return a random user as the ``{name, id}`` pair the deleted endpoint uses."""
    user = USERS[rng.randrange(len(USERS))]
    return {"name": user["name"], "id": user["id"]}


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
