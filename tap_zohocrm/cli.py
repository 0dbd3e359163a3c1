"""The ``tap-zohocrm`` console script: the Singer tap, plus ``tap-zohocrm auth``."""

from __future__ import annotations

import logging
import os
import sys
import typing as t

from tap_zohocrm import early_token

__all__ = ["exit_now", "main"]


def main() -> None:
    """Run ``tap-zohocrm auth ...`` (see onboarding.py), else the SDK's tap command line."""
    argv = sys.argv[1:]
    if "auth" not in argv[:3]:
        # Before the imports below (singer-sdk): the token's latency passes meanwhile.
        early_token.start(argv)
    from tap_zohocrm.onboarding import auth_command, dispatch

    auth_args = dispatch(argv)
    if auth_args is not None:
        auth_command.main(args=auth_args, prog_name="tap-zohocrm auth")
        return
    from tap_zohocrm.tap import TapZohoCRM

    try:
        TapZohoCRM.cli()
    except SystemExit as exc:
        exit_now(exc.code)
    exit_now(0)


def exit_now(code: object) -> t.NoReturn:
    """Exit as ``sys.exit(code)`` would, once the output is flushed, skipping the teardown.

    Why: freeing singer-sdk's modules one by one at interpreter exit takes about 0.1 s of
    every run, after the last message. Every thread of the run has ended or is a stopped
    daemon by now, and the log handlers and standard streams are flushed here.
    """
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be written anyway
            status = status or 1
    if sys.getprofile() is not None or sys.gettrace() is not None:
        # A profiler, coverage or a debugger writes its results at a normal exit.
        raise SystemExit(status)
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    main()
