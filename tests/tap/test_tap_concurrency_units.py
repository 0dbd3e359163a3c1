"""The emit lock and the concurrent syncs on their own, without HTTP (concurrency.py)."""

from __future__ import annotations

import threading

import pytest

from tap_zohocrm.concurrency import ConcurrentSyncs, EmitLock, Stopped

PATIENCE = 10.0  # liveness bound of every wait (never reached when the code is right)


def test_a_waiting_holder_lets_another_thread_write_and_then_takes_the_lock_back():
    emit = EmitLock()
    emit.hold()
    wrote = threading.Event()

    def other() -> None:
        emit.acquire()
        wrote.set()
        emit.release()

    thread = threading.Thread(target=other)
    thread.start()
    assert not wrote.wait(0.05)  # blocked while the main thread holds the lock
    with emit.waiting():
        assert wrote.wait(PATIENCE)
    thread.join(PATIENCE)
    assert emit.held()


def test_a_pinned_wait_keeps_the_lock():
    emit = EmitLock()
    emit.hold()
    with emit.pinned(), emit.waiting():
        assert emit.held()


def test_a_thread_told_to_stop_raises_stopped_when_it_comes_back_from_a_wait():
    emit = EmitLock()
    inside = threading.Event()
    outcome: list[str] = []

    def stream() -> None:
        emit.acquire()
        try:
            with emit.waiting():
                inside.set()
                go.wait(PATIENCE)
            outcome.append("went on")
        except Stopped:
            outcome.append("stopped")
            assert not emit.held()
        finally:
            if emit.held():
                emit.release()

    go = threading.Event()
    thread = threading.Thread(target=stream)
    thread.start()
    assert inside.wait(PATIENCE)
    emit.stop([thread.ident or 0])
    go.set()
    thread.join(PATIENCE)
    assert outcome == ["stopped"]


def _syncs(limit: int, names: list[str], run_of) -> tuple[ConcurrentSyncs, dict]:
    planned = {name: run_of(name) for name in names}
    return ConcurrentSyncs(limit, EmitLock()), planned


def test_syncs_run_on_threads_at_most_limit_at_once_and_the_main_thread_waits_for_each():
    emit_calls: list[str] = []
    running = {"now": 0, "most": 0}
    lock = threading.Lock()

    def run_of(name: str):
        def run() -> None:
            with lock:
                running["now"] += 1
                running["most"] = max(running["most"], running["now"])
            with syncs.emit.waiting():  # a call to Zoho
                threading.Event().wait(0.02)
            emit_calls.append(name)
            with lock:
                running["now"] -= 1

        return run

    names = ["a", "b", "c", "d", "e"]
    syncs, planned = _syncs(2, names, run_of)
    for name in names:
        syncs.sync(name, lambda: pytest.fail("ran in place"), lambda: planned)
    assert sorted(emit_calls) == names
    assert running["most"] == 2
    assert syncs.emit.held()  # the main thread keeps it after the syncs


def test_a_failed_sync_is_raised_where_its_stream_syncs_and_stops_the_later_ones():
    finished: list[str] = []
    release = threading.Event()

    def run_of(name: str):
        def run() -> None:
            if name == "b":
                raise ValueError("b failed")
            with syncs.emit.waiting():
                release.wait(PATIENCE if name != "a" else 0.01)
            finished.append(name)

        return run

    syncs, planned = _syncs(3, ["a", "b", "c", "d"], run_of)
    syncs.sync("a", lambda: None, lambda: planned)
    timer = threading.Timer(0.2, release.set)  # Zoho answers the calls still in flight
    timer.start()
    with pytest.raises(ValueError, match="b failed"):
        syncs.sync("b", lambda: None, lambda: planned)
    timer.join(PATIENCE)
    # c (and d, if it started when b ended) were waiting for Zoho when b's error was raised:
    # they stopped instead of finishing. A later sync of one runs in place.
    assert finished == ["a"]
    ran_in_place: list[str] = []
    syncs.sync("d", lambda: ran_in_place.append("d"), lambda: planned)
    assert ran_in_place == ["d"]


def test_the_syncs_take_the_lock_first_in_sync_order_so_schemas_come_in_order():
    class SlowFirstTaker(EmitLock):
        def acquire(self) -> None:
            if threading.current_thread().name == "a-sync" and not self.held():
                threading.Event().wait(0.1)  # the first stream's thread is slow to start
            super().acquire()

    first_messages: list[str] = []

    def run_of(name: str):
        def run() -> None:
            first_messages.append(name)  # singer-sdk writes the SCHEMA before any wait
            with syncs.emit.waiting():
                threading.Event().wait(0.01)

        return run

    planned = {name: run_of(name) for name in ("a", "b", "c")}
    syncs = ConcurrentSyncs(3, SlowFirstTaker())
    for name in planned:
        syncs.sync(name, lambda: pytest.fail("ran in place"), lambda: planned)
    assert first_messages == ["a", "b", "c"]
