"""Deterministic Zoho-shaped lead records as Singer SCHEMA / RECORD / STATE lines.

Each record has 40+ fields as Get Records renders a lead: owner and user lookups
(``{"name", "id", "email"}``), multi-selects and tags (lists), datetimes in the user's time zone
with their offset (``-08:00`` and ``-07:00``), numbers, booleans and nulls. Record ``i`` depends
only on the seed and ``i``, so files are byte-identical across runs and machines, and are cached
under ``.bench/data/``.

Variants:

* ``initial``: ``n`` records in ``Modified_Time`` order, as a tap's first sync emits them;
* ``changed``: the same ``n`` records where every tenth one changed (status, phone, the user who
  modified it and a later ``Modified_Time``), the changed ones last, as a full re-sync would
  emit them.

``python -m benchmarks.workload --records 1000 --variant changed`` prints the file's path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from benchmarks.common import bench_path
from zoho_crm_emulator.fielddefs import (
    INDUSTRIES,
    LEAD_SOURCES,
    LEAD_STATUSES,
    RATINGS,
    SALUTATIONS,
)

#: Bump when the records change, so that cached files are made again.
VERSION = 3
STREAM = "leads"
SEED = 8
TZ = ZoneInfo("America/Los_Angeles")
#: Records are modified between these instants (local time), DST changes included.
START = int(dt.datetime(2024, 1, 1, tzinfo=TZ).timestamp())
END = int(dt.datetime(2025, 6, 30, 23, 0, tzinfo=TZ).timestamp())
#: Changed records get Modified_Time after this one.
CHANGED_START = int(dt.datetime(2025, 7, 15, 9, 0, tzinfo=TZ).timestamp())
TIME_EXTRACTED = "2025-07-20T12:00:00+00:00"
STATE_EVERY = 1000
#: Every CHANGE_EVERY-th record (from CHANGE_OFFSET) changes in the ``changed`` variant: 10%.
CHANGE_EVERY = 10
CHANGE_OFFSET = 3
ID_BASE = 5725767000000400000


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William "
    "Barbara Richard Susan Joseph Jessica Thomas Sarah Carlos Ana Yuki Priya Olga Ahmed "
    "Chen Fatima"
)
LAST = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Kim"
)
COMPANY_WORDS = _words(
    "Zylker Acme Globex Initech Umbrella Stark Wayne Wonka Tyrell Cyberdyne Hooli "
    "Vandelay Soylent Massive Dynamic Aperture Black Mesa Gringotts Oscorp Pied Piper"
)
COMPANY_SUFFIX = ["Inc", "LLC", "Ltd", "GmbH", "Corp", "Group", "Partners", "Systems"]
# The emulator's picklists, so that both workloads draw the same values.
LEAD_SOURCE = LEAD_SOURCES
LEAD_STATUS = LEAD_STATUSES
INDUSTRY = INDUSTRIES
RATING = [*RATINGS, None]
SALUTATION = [*SALUTATIONS, None]
PRODUCTS = ["CRM", "Desk", "Books", "Campaigns", "Analytics", "Projects", "People", "Sign"]
CHANNELS = ["Email", "Phone", "SMS", "WhatsApp", "Video Call", "In Person"]
TAGS = ["VIP", "Webinar 2024", "Expo", "Reseller", "Churn Risk", "Upsell"]
CITIES = [
    ("Seattle", "WA", "US"),
    ("Austin", "TX", "US"),
    ("Boston", "MA", "US"),
    ("Toronto", "ON", "CA"),
    ("London", None, "GB"),
    ("Chennai", "TN", "IN"),
    ("Berlin", None, "DE"),
    ("Sydney", "NSW", "AU"),
]
WORDS = _words(
    "follow up demo pricing renewal budget approved next quarter decision maker needs "
    "integration with email marketing support onboarding trial extended requested quote "
    "call back after conference interested in enterprise plan migration from spreadsheet"
)
USERS = [
    {
        "name": f"{first} {last}",
        "id": str(5725767000000411000 + k),
        "email": f"{first.lower()}.{last.lower()}@zylker.example",
    }
    for k, (first, last) in enumerate(
        [
            ("Patricia", "Boyle"),
            ("Kevin", "Ortiz"),
            ("Mina", "Sato"),
            ("Rahul", "Iyer"),
            ("Sofia", "Rossi"),
            ("Liam", "Walsh"),
            ("Grace", "Obi"),
            ("Tomas", "Novak"),
            ("Aisha", "Khan"),
            ("Ben", "Carter"),
            ("Elena", "Petrova"),
            ("Noah", "Fischer"),
        ]
    )
]
API_USER = {"name": "API Integration", "id": "5725767000000419999", "email": "api@zylker.example"}


def _dt_schema() -> dict[str, Any]:
    return {"type": ["string", "null"], "format": "date-time"}


def _user_schema() -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "properties": {
            "name": {"type": ["string", "null"]},
            "id": {"type": ["string", "null"]},
            "email": {"type": ["string", "null"]},
        },
    }


def _str() -> dict[str, Any]:
    return {"type": ["string", "null"]}


def schema() -> dict[str, Any]:
    """JSON Schema of a lead (as the tap derives it from Zoho's field metadata)."""
    properties: dict[str, Any] = {
        "id": {"type": "string"},
        "Owner": _user_schema(),
        "Company": _str(),
        "Salutation": _str(),
        "First_Name": _str(),
        "Last_Name": _str(),
        "Full_Name": _str(),
        "Designation": _str(),
        "Email": {"type": ["string", "null"], "format": "email"},
        "Secondary_Email": {"type": ["string", "null"], "format": "email"},
        "Phone": _str(),
        "Mobile": _str(),
        "Fax": _str(),
        "Website": _str(),
        "Lead_Source": _str(),
        "Lead_Status": _str(),
        "Industry": _str(),
        "No_of_Employees": {"type": ["integer", "null"]},
        "Annual_Revenue": {"type": ["number", "null"]},
        "Rating": _str(),
        "Email_Opt_Out": {"type": ["boolean", "null"]},
        "Street": _str(),
        "City": _str(),
        "State": _str(),
        "Zip_Code": _str(),
        "Country": _str(),
        "Description": _str(),
        "Product_Interest": {"type": ["array", "null"], "items": {"type": "string"}},
        "Preferred_Channels": {"type": ["array", "null"], "items": {"type": "string"}},
        "Tag": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "id": {"type": "string"}},
            },
        },
        "Lead_Age_Days": {"type": ["number", "null"]},
        "Converted__s": {"type": ["boolean", "null"]},
        "Converted_Date_Time": _dt_schema(),
        "Created_By": _user_schema(),
        "Modified_By": _user_schema(),
        "Created_Time": _dt_schema(),
        "Modified_Time": _dt_schema(),
        "Last_Activity_Time": _dt_schema(),
        "Unsubscribed_Mode": _str(),
        "Unsubscribed_Time": _dt_schema(),
        "Record_Image": _str(),
        "_sdc_deleted_at": _dt_schema(),
    }
    return {"type": "object", "properties": properties}


#: The narrow lead: 15 fields (issue 19's second target workload).
NARROW_FIELDS = (
    "id", "First_Name", "Last_Name", "Company", "Email", "Phone", "Lead_Source",
    "Lead_Status", "Description", "Annual_Revenue", "No_of_Employees", "Email_Opt_Out",
    "Owner", "Created_Time", "Modified_Time",
)  # fmt: skip
SHAPES = ("wide", "narrow")


def _narrow(properties: dict[str, Any]) -> dict[str, Any]:
    return {name: properties[name] for name in NARROW_FIELDS}


def schema_message(shape: str = "wide") -> dict[str, Any]:
    """The SCHEMA message of the stream (``narrow``: the 15 fields only)."""
    full = schema()
    if shape == "narrow":
        full = {**full, "properties": _narrow(full["properties"])}
    return {
        "type": "SCHEMA",
        "stream": STREAM,
        "schema": full,
        "key_properties": ["id"],
        "bookmark_properties": ["Modified_Time"],
    }


def local(ts: int) -> str:
    """An instant as Zoho renders it: user time zone, offset included."""
    return dt.datetime.fromtimestamp(ts, TZ).isoformat()


def _modified_ts(i: int, n: int, rng: random.Random) -> int:
    step = (END - START) / n
    return START + int(i * step) + rng.randrange(max(1, int(step)))


def lead(i: int, n: int, *, seed: int = SEED, changed_rank: int | None = None) -> dict[str, Any]:
    """Record ``i`` of ``n``.

    Args:
        i: Index (0-based); records are in ``Modified_Time`` order.
        n: Number of records (spreads the modification times over the data range).
        seed: Seed of the whole set.
        changed_rank: When set, the changed version of the record, modified after every
            original record (``changed_rank`` orders the changed ones).

    Returns:
        The record as Get Records renders it.
    """
    rng = random.Random(seed * 1_000_003 + i)
    modified = _modified_ts(i, n, rng)
    created = modified - rng.randrange(0, 120 * 86400)
    first = rng.choice(FIRST)
    last = rng.choice(LAST)
    words = (rng.choice(COMPANY_WORDS), rng.choice(COMPANY_WORDS), rng.choice(COMPANY_SUFFIX))
    company = " ".join(words)
    domain = company.split()[0].lower() + ".example"
    city, state, country = rng.choice(CITIES)
    owner = rng.choice(USERS)
    creator = rng.choice(USERS)
    modifier = rng.choice(USERS)
    converted = rng.random() < 0.05
    unsubscribed = rng.random() < 0.03
    tags = rng.sample(TAGS, rng.randrange(0, 3))
    record: dict[str, Any] = {
        "id": str(ID_BASE + i),
        "Owner": owner,
        "Company": company,
        "Salutation": rng.choice(SALUTATION),
        "First_Name": first,
        "Last_Name": last,
        "Full_Name": f"{first} {last}",
        "Designation": rng.choice(["CEO", "CTO", "Buyer", "Head of Sales", "Analyst", None]),
        "Email": f"{first.lower()}.{last.lower()}{i}@{domain}",
        "Secondary_Email": None if rng.random() < 0.7 else f"{first.lower()}{i}@mail.example",
        "Phone": f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
        "Mobile": None if rng.random() < 0.4 else f"+1 555 {rng.randrange(1000000, 9999999)}",
        "Fax": None,
        "Website": f"https://www.{domain}",
        "Lead_Source": rng.choice(LEAD_SOURCE),
        "Lead_Status": rng.choice(LEAD_STATUS),
        "Industry": rng.choice(INDUSTRY),
        "No_of_Employees": rng.choice([None, rng.randrange(1, 50000)]),
        "Annual_Revenue": rng.choice([None, round(rng.uniform(1e4, 5e7), 2)]),
        "Rating": rng.choice(RATING),
        "Email_Opt_Out": rng.random() < 0.1,
        "Street": f"{rng.randrange(1, 9999)} {rng.choice(LAST)} Street",
        "City": city,
        "State": state,
        "Zip_Code": f"{rng.randrange(10000, 99999)}",
        "Country": country,
        "Description": " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 20))),
        "Product_Interest": rng.sample(PRODUCTS, rng.randrange(0, 4)),
        "Preferred_Channels": rng.sample(CHANNELS, rng.randrange(1, 3)),
        "Tag": [{"name": tag, "id": str(5725767000000415000 + TAGS.index(tag))} for tag in tags],
        "Lead_Age_Days": round((END - created) / 86400, 1),
        "Converted__s": converted,
        "Converted_Date_Time": local(modified) if converted else None,
        "Created_By": creator,
        "Modified_By": modifier,
        "Created_Time": local(created),
        "Modified_Time": local(modified),
        "Last_Activity_Time": local(modified - rng.randrange(0, 3600)),
        "Unsubscribed_Mode": "Consent form" if unsubscribed else None,
        "Unsubscribed_Time": local(modified) if unsubscribed else None,
        "Record_Image": None,
        "_sdc_deleted_at": None,
    }
    if changed_rank is not None:
        new_modified = CHANGED_START + changed_rank * 7
        statuses = [s for s in LEAD_STATUS if s != record["Lead_Status"]]
        record["Lead_Status"] = statuses[changed_rank % len(statuses)]
        record["Phone"] = f"+1 555 {changed_rank % 900 + 100} {i % 9000 + 1000}"
        record["Modified_By"] = API_USER
        record["Modified_Time"] = local(new_modified)
        record["Last_Activity_Time"] = local(new_modified)
    return record


def is_changed(i: int) -> bool:
    """True when record ``i`` changes in the ``changed`` variant."""
    return i % CHANGE_EVERY == CHANGE_OFFSET


def _write(handle: IO[str], message: dict[str, Any]) -> None:
    handle.write(json.dumps(message, separators=(",", ":")))
    handle.write("\n")


def _state(modified_time: str) -> dict[str, Any]:
    return {
        "type": "STATE",
        "value": {
            "bookmarks": {
                STREAM: {"replication_key": "Modified_Time", "replication_key_value": modified_time}
            }
        },
    }


def write_workload(
    path: Path, n: int, variant: str = "initial", seed: int = SEED, shape: str = "wide"
) -> None:
    """Write the Singer messages of a variant to ``path``.

    Args:
        path: Output file.
        n: Number of records.
        variant: ``initial`` or ``changed``.
        seed: Seed of the set.
        shape: ``wide`` (40+ fields) or ``narrow`` (15).
    """
    if variant not in ("initial", "changed") or shape not in SHAPES:
        msg = f"unknown variant {variant!r} or shape {shape!r}"
        raise ValueError(msg)
    with open(path, "w", encoding="utf-8") as handle:
        _write(handle, schema_message(shape))
        emitted = 0
        last = ""
        order: list[tuple[int, int | None]] = []
        if variant == "initial":
            order = [(i, None) for i in range(n)]
        else:
            order = [(i, None) for i in range(n) if not is_changed(i)]
            order += [(i, rank) for rank, i in enumerate(i for i in range(n) if is_changed(i))]
        for i, rank in order:
            record = lead(i, n, seed=seed, changed_rank=rank)
            if shape == "narrow":
                record = _narrow(record)
            _write(
                handle,
                {
                    "type": "RECORD",
                    "stream": STREAM,
                    "record": record,
                    "time_extracted": TIME_EXTRACTED,
                },
            )
            last = record["Modified_Time"]
            emitted += 1
            if emitted % STATE_EVERY == 0:
                _write(handle, _state(last))
        if emitted % STATE_EVERY:
            _write(handle, _state(last))


def workload(n: int, variant: str = "initial", seed: int = SEED, shape: str = "wide") -> Path:
    """The cached workload file, written first if missing.

    Args:
        n: Number of records.
        variant: ``initial`` or ``changed``.
        seed: Seed of the set.
        shape: ``wide`` or ``narrow``.

    Returns:
        Path of the file under ``.bench/data/``.
    """
    suffix = "" if shape == "wide" else f"-{shape}"
    path = bench_path("data", f"leads-v{VERSION}-s{seed}-{n}-{variant}{suffix}.jsonl")
    if not path.exists():
        partial = path.with_suffix(f".partial{os.getpid()}")
        write_workload(partial, n, variant, seed, shape)
        partial.replace(path)
    return path


def changed_count(n: int) -> int:
    """Records that change in the ``changed`` variant of ``n`` records."""
    return sum(1 for i in range(n) if is_changed(i))


def main() -> None:
    """Write (or find) a workload file and print its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--variant", choices=["initial", "changed"], default="initial")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    print(workload(args.records, args.variant, args.seed))


if __name__ == "__main__":
    main()
