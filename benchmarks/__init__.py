"""Benchmarks for tap-zohocrm, target-sqlite-audit and the pipeline (issue 8).

Run them with ``make bench`` (or ``.venv/bin/python -m benchmarks.run --help`` for options).
Everything they need is installed on the fly into the gitignored ``.bench/`` folder; the
figures are printed and written to ``BENCHMARKS.md``. They never run inside ``make test``.
"""
