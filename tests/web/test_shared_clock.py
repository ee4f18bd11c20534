"""The test clock of ``serve --workers N``: one offset in a file, for every worker process."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from ninsho.reference.clocks import MAX_LANES, TEST_CLOCK_LANE, ShiftedClock, SystemClock, TooManyLanes


class Frozen(SystemClock):
    def now(self) -> float:
        return 1_000.0


def _advance_many(path: str, times: int) -> None:
    clock = ShiftedClock(shared=Path(path))
    for _ in range(times):
        clock.advance(0.5)


def test_a_move_through_one_clock_is_seen_by_another(tmp_path: Path) -> None:
    shared = tmp_path / "portal.sqlite.test-clock"
    shared.write_text("0.0")
    first, second = ShiftedClock(Frozen(), shared=shared), ShiftedClock(Frozen(), shared=shared)
    first.advance(30)
    second.advance(-5)
    assert first.now() == second.now() == 1_025.0
    assert first.offset == second.offset == 25.0


def test_moves_from_several_processes_all_count(tmp_path: Path) -> None:
    """Four processes, 50 moves each, at once: none is lost to another's read-modify-write,
    and a reader meanwhile reads only whole offsets."""
    shared = tmp_path / "portal.sqlite.test-clock"
    shared.write_text("0.0")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_advance_many, args=(str(shared), 50)) for _ in range(4)]
    for worker in workers:
        worker.start()
    reader, seen = ShiftedClock(shared=shared), []
    while any(worker.is_alive() for worker in workers):  # a reader never sees a half-written file
        seen.append(reader.offset)
    for worker in workers:
        worker.join(timeout=120)
    assert all(0.0 <= offset <= 100.0 for offset in seen)
    assert [worker.exitcode for worker in workers] == [0] * 4
    assert ShiftedClock(shared=shared).offset == 4 * 50 * 0.5


def test_each_lane_keeps_its_own_offset_in_the_shared_file(tmp_path: Path) -> None:
    """§17 "Lanes" across worker processes: a lane moved through one clock is moved for the
    others, the other lanes and the portal's own offset (from a file of before the lanes) stay."""
    shared = tmp_path / "portal.sqlite.test-clock"
    shared.write_text("7.0")  # the one offset of a file from before the lanes
    first, second = ShiftedClock(Frozen(), shared=shared), ShiftedClock(Frozen(), shared=shared)
    token = TEST_CLOCK_LANE.set("gw0")
    try:
        first.advance(30)
        assert second.now() == 1_030.0
    finally:
        TEST_CLOCK_LANE.reset(token)
    assert (first.offset, second.now()) == (7.0, 1_007.0)
    token = TEST_CLOCK_LANE.set("gw1")
    try:
        assert second.offset == 0.0
    finally:
        TEST_CLOCK_LANE.reset(token)


def test_a_lane_beyond_the_bound_is_refused_and_changes_nothing() -> None:
    clock = ShiftedClock(Frozen())
    for n in range(MAX_LANES):
        token = TEST_CLOCK_LANE.set(f"lane-{n}")
        clock.advance(1)
        TEST_CLOCK_LANE.reset(token)
    token = TEST_CLOCK_LANE.set("one-more")
    try:
        with pytest.raises(TooManyLanes):
            clock.advance(1)
        assert clock.offset == 0.0
    finally:
        TEST_CLOCK_LANE.reset(token)
    token = TEST_CLOCK_LANE.set("lane-0")  # a lane it keeps still moves
    try:
        clock.advance(1)
        assert clock.offset == 2.0
    finally:
        TEST_CLOCK_LANE.reset(token)
