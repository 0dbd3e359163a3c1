"""``zoho-crm-emulator``: serve an emulated org, or steer a running one.

``serve`` prints ``Zoho CRM emulator listening on http://HOST:PORT`` once it is ready (the
line scripts wait for) and runs until SIGINT or SIGTERM. ``mutate``, ``stats`` and
``faults`` call the control endpoints of a running emulator.
"""

from __future__ import annotations

import argparse
import datetime
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.emulator import Emulator
from zoho_crm_emulator.store import ACTIONS

_SIZE_OPTIONS = ("leads", "contacts", "deals", "accounts", "projects")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoho-crm-emulator", description="A local Zoho CRM emulator for offline runs."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve an emulated org until SIGINT/SIGTERM")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    serve.add_argument("--seed", type=int, default=42)
    for name in _SIZE_OPTIONS:
        serve.add_argument(f"--{name}", type=int, help=f"number of {name.title()} records")
    serve.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="MODULE=N",
        help="records of any module, e.g. --size Tasks=500 (repeatable)",
    )
    serve.add_argument("--timezone", default="America/Los_Angeles", help="API user time zone")
    serve.add_argument(
        "--edition", default="enterprise", help="Zoho CRM edition (territories need enterprise)"
    )
    serve.add_argument(
        "--recent-days",
        type=int,
        help="generate data over the last N days up to now (default: 2024-01 to 2025-06)",
    )
    serve.add_argument("--token-lifetime-seconds", type=float, default=3600.0)
    serve.add_argument("--token-lifetime-calls", type=int)
    serve.add_argument("--page-token-cap", type=int, default=100_000)
    serve.add_argument("--fail-429", type=float, default=0.0, help="fraction of 429 answers")
    serve.add_argument("--fail-500", type=float, default=0.0, help="fraction of 500 answers")
    serve.add_argument("--latency-ms", type=float, default=0.0)
    serve.add_argument(
        "--max-concurrent-calls", type=int, help="API calls served at once; more answer 429"
    )
    serve.add_argument(
        "--coql-max-fields", type=int, default=50, help="columns a COQL SELECT may name"
    )
    serve.add_argument("--bulk-job-seconds", type=float, default=1.0, help="Bulk Read job time")
    serve.add_argument("--bulk-page-size", type=int, default=200_000, help="records per job")
    serve.add_argument(
        "--churn-every-calls", type=int, help="edit a record per churn module every N API calls"
    )
    serve.add_argument("--churn-interval-ms", type=float, help="also edit on a timer")
    serve.add_argument(
        "--churn-modules", default="Leads,Contacts,Deals", help="modules churn edits (comma)"
    )
    serve.add_argument("--scopes", help="granted scopes, comma or space separated")
    serve.add_argument("--log-requests", action="store_true", help="log every request")

    mutate = commands.add_parser("mutate", help="change a running emulator's data")
    mutate.add_argument("--url", required=True, help="base URL of the running emulator")
    mutate.add_argument("action", choices=ACTIONS)
    mutate.add_argument("--module", default="Leads")
    mutate.add_argument("--count", type=int, default=1)
    mutate.add_argument("--ids", nargs="*", default=None, help="record ids (space or comma)")
    mutate.add_argument("--type", choices=("recycle", "permanent"), help="for delete")
    mutate.add_argument("--field", help="for formula: the formula field to change")
    mutate.add_argument("--delta", type=float, help="for formula: amount to add")

    stats = commands.add_parser("stats", help="print a running emulator's counters")
    stats.add_argument("--url", required=True)
    stats.add_argument("--reset", action="store_true", help="zero the counters afterwards")

    faults = commands.add_parser("faults", help="change a running emulator's faults")
    faults.add_argument("--url", required=True)
    faults.add_argument("--fail-429", type=float)
    faults.add_argument("--fail-500", type=float)
    faults.add_argument("--latency-ms", type=float)
    faults.add_argument("--token-lifetime-seconds", type=float)
    faults.add_argument("--token-lifetime-calls", type=int)
    faults.add_argument("--churn-every-calls", type=int)
    faults.add_argument("--churn-interval-ms", type=float)
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Build an ``EmulatorConfig`` from ``serve`` arguments."""
    sizes: dict[str, int] = {}
    for name in _SIZE_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            sizes[name.title()] = value
    for item in args.size:
        module, _, count = item.partition("=")
        if not module or not count.isdigit():
            raise SystemExit(f"--size expects MODULE=N, got {item!r}")
        sizes[module] = int(count)
    config = EmulatorConfig(
        seed=args.seed,
        sizes=sizes,
        timezone=args.timezone,
        token_lifetime_seconds=args.token_lifetime_seconds,
        token_lifetime_calls=args.token_lifetime_calls,
        page_token_cap=args.page_token_cap,
        fail_429=args.fail_429,
        fail_500=args.fail_500,
        latency_ms=args.latency_ms,
        max_concurrent_calls=args.max_concurrent_calls,
        coql_max_fields=args.coql_max_fields,
        bulk_job_seconds=args.bulk_job_seconds,
        bulk_page_size=args.bulk_page_size,
        churn_every_calls=args.churn_every_calls,
        churn_interval_ms=args.churn_interval_ms,
        churn_modules=tuple(m.strip() for m in args.churn_modules.split(",") if m.strip()),
        host=args.host,
        port=args.port,
        edition=args.edition,
    )
    if args.recent_days:
        end = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        config.end = end.isoformat()
        config.start = (end - datetime.timedelta(days=args.recent_days)).isoformat()
    if args.scopes:
        config.scopes = tuple(s for s in args.scopes.replace(",", " ").split() if s)
    return config


def serve(args: argparse.Namespace) -> int:
    """Run the emulator in the foreground until SIGINT or SIGTERM."""
    emulator = Emulator(config_from_args(args), verbose=args.log_requests)
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    base_url = emulator.start()
    print(f"Zoho CRM emulator listening on {base_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("Zoho CRM emulator stopped", file=sys.stderr, flush=True)
    return 0


def _call(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call a control endpoint and return its JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the user-given emulator URL
        url.rstrip("/") + path,
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the user-given emulator URL
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{exc.code}: {exc.read().decode(errors='replace')}") from None
    except urllib.error.URLError as exc:
        raise SystemExit(f"cannot reach the emulator at {url}: {exc.reason}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoho-crm-emulator`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "mutate":
        body: dict[str, Any] = {"action": args.action, "module": args.module, "count": args.count}
        if args.ids:
            body["ids"] = [i for item in args.ids for i in item.split(",") if i]
        for key in ("type", "field", "delta"):
            if getattr(args, key) is not None:
                body[key] = getattr(args, key)
        print(json.dumps(_call(args.url, "/_emulator/mutate", body)))
        return 0
    if args.command == "stats":
        print(json.dumps(_call(args.url, "/_emulator/stats"), indent=2))
        if args.reset:
            _call(args.url, "/_emulator/stats/reset", {})
        return 0
    changes = {
        key: getattr(args, key)
        for key in (
            "fail_429",
            "fail_500",
            "latency_ms",
            "token_lifetime_seconds",
            "token_lifetime_calls",
            "churn_every_calls",
            "churn_interval_ms",
        )
        if getattr(args, key) is not None
    }
    print(json.dumps(_call(args.url, "/_emulator/faults", changes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
