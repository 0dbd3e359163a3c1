"""The ``tap-zohocrm`` console script: the Singer tap, plus ``tap-zohocrm auth``."""

from __future__ import annotations

import sys

from tap_zohocrm.onboarding import auth_command, dispatch
from tap_zohocrm.tap import TapZohoCRM

__all__ = ["main"]


def main() -> None:
    """Run ``tap-zohocrm auth ...`` (see onboarding.py), else the SDK's tap command line."""
    auth_args = dispatch(sys.argv[1:])
    if auth_args is not None:
        auth_command.main(args=auth_args, prog_name="tap-zohocrm auth")
        return
    TapZohoCRM.cli()


if __name__ == "__main__":  # pragma: no cover
    main()
