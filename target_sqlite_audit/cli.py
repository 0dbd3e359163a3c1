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
import sys
import typing as t

from target_sqlite_audit.errors import AuditError
from target_sqlite_audit.report import build_report, redact

logger = logging.getLogger("target-sqlite-audit")


def main(argv: t.Sequence[str] | None = None) -> None:
    """Run the target, or the ``report`` command if the first argument is ``report``.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["report"]:
        sys.exit(report_main(args[1:]))
    sys.exit(run_target(args))


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
    parser.add_argument("--database", help="Path of the SQLite file (default: from --config).")
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
    database = options.database or config.get("database")
    if not database:
        from target_sqlite_audit.target import DEFAULT_DATABASE

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
