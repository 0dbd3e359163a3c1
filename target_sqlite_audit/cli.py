"""Command line: ``target-sqlite-audit`` (the Singer target) and its ``report`` command.

``target-sqlite-audit report --database PATH`` prints the recent syncs; anything else
goes to the singer-sdk CLI (``--config``, ``--about --format=markdown``, ``--input``...).
Expected failures (:class:`~target_sqlite_audit.errors.AuditError`) have already been
logged as one sentence by the target; here they only set the exit code, so users never
see a traceback for them (it is logged at DEBUG level).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import typing as t

from target_sqlite_audit.errors import AuditError
from target_sqlite_audit.report import build_report, redact

logger = logging.getLogger("target-sqlite-audit")


def main(argv: t.Sequence[str] | None = None) -> None:
    """Run the target, or the ``report`` command if the first argument is ``report``, and exit.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command = _report_args(args)
    if command is not None:
        exit_now(report_main(command))
    code = run_target(args)
    if any(a in ("--help", "-h") for a in args):
        print(REPORT_HINT)
    exit_now(code)


def exit_now(code: int) -> t.NoReturn:
    """Exit with ``code`` once the output is flushed, skipping the interpreter's teardown.

    Why: freeing singer-sdk's modules one by one at exit takes about 0.1 s of every run.
    The store is closed by then (the target closes it at the end of the input and on
    failure), and the log handlers and standard streams are flushed here.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be written anyway
            code = code or 1
    if sys.getprofile() is not None or sys.gettrace() is not None:
        # A profiler, coverage or a debugger writes its results at a normal exit.
        raise SystemExit(code)
    os._exit(code)


#: Printed after the SDK's --help.
REPORT_HINT = (
    "\nAlso: target-sqlite-audit report [--database PATH | --config FILE] [--limit N] "
    "[--no-redact]\n  prints the recent syncs, counts per stream and tables of an audit "
    "database (Meltano: meltano invoke target-sqlite-audit:report)."
)


def _report_args(args: list[str]) -> list[str] | None:
    """The ``report`` command's arguments, if ``report`` is the command.

    ``report`` may follow ``--config FILE`` pairs (Meltano puts ``--config`` first), which
    then apply to it.
    """
    leading: list[str] = []
    i = 0
    while i < len(args) and args[i] == "--config" and i + 1 < len(args):
        leading += args[i : i + 2]
        i += 2
    if i < len(args) and args[i] == "report":
        return [*leading, *args[i + 1 :]]
    return None


def run_target(args: t.Sequence[str]) -> int:
    """Run the singer-sdk target CLI.

    Args:
        args: Command-line arguments.

    Returns:
        The exit code.
    """
    from target_sqlite_audit.target import TargetSqliteAudit

    command = TargetSqliteAudit.cli  # a class property that builds the click command
    try:
        command.main(args=list(args), prog_name=TargetSqliteAudit.name, standalone_mode=True)
    except AuditError as exc:
        # The target logged the sentence already (redacted if configured); errors
        # raised before it could (e.g. bad settings) are printed here.
        if not exc.logged:
            print(f"{TargetSqliteAudit.name}: error: {exc.sentence}", file=sys.stderr)
        logger.debug("Traceback of: %s", exc.sentence, exc_info=exc)
        return exc.exit_code
    except SystemExit as exc:
        return _exit_code(exc)
    return 0


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def report_main(args: t.Sequence[str]) -> int:
    """Print the recent syncs and change counts of an audit database.

    Args:
        args: Arguments after ``report``.

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(
        prog="target-sqlite-audit report",
        description="Print the recent syncs and change counts of an audit database.",
    )
    parser.add_argument(
        "--database",
        help="Path of the SQLite file (default: from --config, else TARGET_SQLITE_AUDIT_DATABASE).",
    )
    parser.add_argument("--config", help="Target config file (for `database`, `redact_pii`).")
    parser.add_argument("--limit", type=int, default=10, help="Number of syncs (default 10).")
    parser.add_argument(
        "--no-redact",
        action="store_true",
        help="Show e-mail addresses and phone numbers instead of placeholders.",
    )
    options = parser.parse_args(list(args))
    config: dict[str, t.Any] = {}
    if options.config:
        try:
            with open(options.config, encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, ValueError) as exc:
            print(
                f"target-sqlite-audit report: cannot read {options.config}: {exc}", file=sys.stderr
            )
            return 2
    # Meltano passes a plugin command its settings as environment variables.
    database = (
        options.database or config.get("database") or os.environ.get("TARGET_SQLITE_AUDIT_DATABASE")
    )
    if "redact_pii" not in config and "TARGET_SQLITE_AUDIT_REDACT_PII" in os.environ:
        config["redact_pii"] = os.environ["TARGET_SQLITE_AUDIT_REDACT_PII"].lower() in ("1", "true")
    if not database:
        from target_sqlite_audit.config_schema import DEFAULT_DATABASE

        database = DEFAULT_DATABASE
    redact_pii = not options.no_redact and bool(config.get("redact_pii", True))
    try:
        text = build_report(database, limit=options.limit, redact_pii=redact_pii)
    except AuditError as exc:
        sentence = redact(exc.sentence) if redact_pii else exc.sentence
        print(f"target-sqlite-audit report: {sentence}", file=sys.stderr)
        return exc.exit_code
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    main()
