"""The tap's writer: RECORD lines go out in batches, whole, in order, and never after a STATE
that covers them."""

from __future__ import annotations

import contextlib
import io
import json

from singer_sdk.singerlib import RecordMessage, StateMessage

from tap_zohocrm.writer import ZohoSingerWriter, flush_writers


class CountingOut(io.StringIO):
    """stdout that counts its write calls."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def record(n: int) -> RecordMessage:
    return RecordMessage(stream="leads", record={"id": str(n), "n": n})


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_records_wait_for_the_state_that_covers_them_and_go_out_in_one_write():
    writer, out = ZohoSingerWriter(), CountingOut()
    with contextlib.redirect_stdout(out):
        for n in range(5):
            writer.write_message(record(n))
        assert out.getvalue() == ""  # held
        writer.write_message(StateMessage(value={"bookmarks": {"leads": {"n": 4}}}))
    assert out.writes == 1
    messages = lines(out)
    assert [m["record"]["n"] for m in messages[:-1]] == [0, 1, 2, 3, 4]
    assert messages[-1]["type"] == "STATE"  # after every record it covers


def test_a_full_batch_of_records_goes_out_without_waiting_for_a_state():
    writer, out = ZohoSingerWriter(), CountingOut()
    with contextlib.redirect_stdout(out):
        for n in range(ZohoSingerWriter.RECORD_BATCH + 3):
            writer.write_message(record(n))
    assert out.writes == 1
    assert [m["record"]["n"] for m in lines(out)] == list(range(ZohoSingerWriter.RECORD_BATCH))


def test_flushing_the_writers_writes_what_a_failed_run_still_holds():
    writer, out = ZohoSingerWriter(), io.StringIO()
    with contextlib.redirect_stdout(out):
        writer.write_message(record(1))
        writer.write_message(record(2))
        flush_writers()  # what the command does when it ends, however it ends
    assert [m["record"]["n"] for m in lines(out)] == [1, 2]
    assert out.getvalue().endswith("\n")


def test_an_integer_beyond_64_bits_is_written_exactly():
    writer, out = ZohoSingerWriter(), io.StringIO()
    big = 2**70 + 1
    with contextlib.redirect_stdout(out):
        writer.write_message(RecordMessage(stream="leads", record={"id": "1", "n": big}))
        writer.flush()
    assert json.loads(out.getvalue())["record"]["n"] == big
