"""`parallel.fork_map`: real forked processes; what a child fails to deliver is done again in the parent."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest
from pyengineer.parallel import balanced_chunks, fork_map

PARENT = os.getpid()


def children() -> set[str]:
    """The pids of this process's live children (Linux)."""
    found: set[str] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        found.update((task / "children").read_text().split())
    return found


def busy(item: int) -> None:
    """Long enough (some 10^4 additions) that the parent cannot take every chunk before a child starts."""
    total = 0
    for i in range(20_000):
        total += i ^ item


def square_where(item: int) -> tuple[int, bool]:
    busy(item)
    return item * item, os.getpid() != PARENT


def test_every_item_once_in_order_and_children_do_part_of_it() -> None:
    before = children()
    mapped = fork_map(list(range(500)), square_where, 3)
    assert [value for value, _ in mapped.results] == [i * i for i in range(500)]
    assert mapped.forked == 2
    assert any(in_child for _, in_child in mapped.results)
    assert children() == before  # every child reaped


def raise_in_a_child(item: int) -> int:
    if item == 7 and os.getpid() != PARENT:
        raise ValueError("only in a child")
    return item + 1


def kill_a_child(item: int) -> int:
    if item % 50 == 3 and os.getpid() != PARENT:
        os.kill(os.getpid(), signal.SIGKILL)
    return item + 1


@pytest.mark.parametrize("work", [raise_in_a_child, kill_a_child])
def test_what_a_failed_child_did_not_deliver_is_done_in_the_parent(work: object) -> None:
    assert callable(work)
    before = children()
    mapped = fork_map(list(range(300)), work, 2)
    assert mapped.results == [i + 1 for i in range(300)]
    assert children() == before


def always_fails_on_seven(item: int) -> int:
    if item == 7:
        raise ValueError(f"item {item}")
    return item


def test_an_error_of_the_work_itself_reaches_the_caller_as_from_a_loop() -> None:
    before = children()
    with pytest.raises(ValueError, match="item 7"):
        fork_map(list(range(300)), always_fails_on_seven, 2)
    assert children() == before


def log_in_children(item: int) -> int:
    busy(item)
    if os.getpid() != PARENT:
        logging.getLogger("pyengineer.somewhere").warning("child saw %d", item)
    return item


def test_what_children_log_comes_back_to_be_logged_by_the_parent(caplog: pytest.LogCaptureFixture) -> None:
    mapped = fork_map(list(range(200)), log_in_children, 2)
    child_items = {int(message.split()[-1]) for _, _, message in mapped.logged}
    assert child_items and all(name == "pyengineer.somewhere" for name, _, _ in mapped.logged)
    assert all(level == logging.WARNING for _, level, _ in mapped.logged)
    assert not [r for r in caplog.records if r.getMessage().startswith("child saw")]  # not written twice


def test_balanced_chunks_hold_every_item_once_about_equal_heaviest_first() -> None:
    sizes = [1000, 900, 10, 10, 10, 500, 400, 300, 200, 100, 5, 5]
    chunks = balanced_chunks(range(len(sizes)), lambda i: sizes[i], 3)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(len(sizes)))
    totals = [sum(sizes[i] for i in chunk) for chunk in chunks]
    assert totals == sorted(totals, reverse=True)
    assert totals[0] - totals[-1] <= max(sizes)
    assert balanced_chunks(range(2), lambda i: 1, 8) == [[0], [1]]  # no empty chunks
