"""tap-zohocrm with batch_config -> BATCH files -> target-sqlite-audit equals the plain run."""

from __future__ import annotations

import pytest
from tap_complete_kit import load_into_audit, query


def _table(database, stream):
    return query(database, f'SELECT * FROM "{stream}" ORDER BY id')


VOLATILE = {"_first_seen_at", "_last_changed_at", "_sync_id", "_history_id"}


@pytest.mark.slow
def test_batch_messages_load_exactly_like_records(start_emulator, tap_config, run_tap, tmp_path):
    emu = start_emulator(seed=97, sizes={"Leads": 450, "Contacts": 40, "Deals": 30})
    plain = run_tap(tap_config(emu))
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{tmp_path / 'batches'}", "prefix": "zoho-"},
    }
    (tmp_path / "batches").mkdir()
    batched = run_tap(tap_config(emu, batch_config=batch_config))
    kinds = {m["type"] for m in batched.messages}
    assert "BATCH" in kinds
    assert "RECORD" not in kinds

    load_into_audit(tmp_path / "plain.sqlite", plain)
    load_into_audit(tmp_path / "batched.sqlite", batched)
    for stream in ("leads", "contacts", "deals"):
        want = [
            {k: v for k, v in row.items() if k not in VOLATILE}
            for row in _table(tmp_path / "plain.sqlite", stream)
        ]
        got = [
            {k: v for k, v in row.items() if k not in VOLATILE}
            for row in _table(tmp_path / "batched.sqlite", stream)
        ]
        assert got == want, stream
        assert len(got) == len(emu.records(stream.capitalize()))
