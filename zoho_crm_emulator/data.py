"""Deterministic generation of the org's records from the seed.

Two stages keep generation fast enough for 100,000-record benchmarks: ``generate_org``
draws only ids and timestamps for every record (a few random numbers each), and
``values.ValueGenerator`` derives the remaining field values of one record from its own seed when
a response needs them. The same seed therefore always renders the same values, whether a
record is read once or many times.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.metadata import supported_modules
from zoho_crm_emulator.model import Deletion, Record
from zoho_crm_emulator.timeutil import parse_iso, zone
from zoho_crm_emulator.words import (
    COMPANY_A,
    COMPANY_B,
    FIRST_NAMES,
    LAST_NAMES,
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
