"""Spreading file-by-file work over the cores: how many there are, size-balanced chunks, when forking is safe,
and `fork_map`, which runs a function over items in forked processes with this one working too.

Imports nothing of pyengineer and nothing heavy: `fork_map` needs neither multiprocessing nor
concurrent.futures (about 30 ms to import, on the critical path of `pyengineer context`), only `os.fork` and
pipes.
"""

from __future__ import annotations

import heapq
import logging
import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Generic, NoReturn, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CHUNKS_PER_PROCESS = 4  # enough chunks to even out items of unequal cost, few enough to keep overhead low
_INDEX_BYTES = 4  # a chunk number in the work pipe


def cpu_count() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def balanced_chunks(items: Sequence[T], size: Callable[[T], int], count: int) -> list[list[T]]:
    """`items` in at most `count` chunks of about equal total size (the largest item first into the lightest
    chunk), the heaviest chunk first: handed out in that order, the last chunks to start are the short ones."""
    heap: list[tuple[int, int]] = [(0, i) for i in range(max(1, count))]
    chunks: list[list[T]] = [[] for _ in heap]
    totals = [0] * len(heap)
    for item in sorted(items, key=lambda i: -size(i)):
        total, i = heapq.heappop(heap)
        chunks[i].append(item)
        totals[i] = total + max(size(item), 1)
        heapq.heappush(heap, (totals[i], i))
    order = sorted(range(len(chunks)), key=lambda i: -totals[i])
    return [chunks[i] for i in order if chunks[i]]


def fork_is_safe() -> bool:
    """True when this process may fork workers: the platform has `fork`, and no other thread runs.

    A forked child holds only the forking thread; a lock another thread held at that moment (logging's, the
    import lock, a C library's) stays held in the child for ever, and the child's first use of it hangs. The
    language server and the MCP server run threads (the event loop, workers, the file watcher), so they never
    pass this test; the command line, single-threaded, does.
    """
    return (
        hasattr(os, "fork")
        and threading.current_thread() is threading.main_thread()
        and threading.active_count() == 1
    )


class _Collector(logging.Handler):
    """A worker's log records, kept to be logged by the parent (where the handlers and once-only sets are)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


class Mapped(Generic[R]):
    """What `fork_map` returns: one result per item, in the items' order; the records the workers logged
    (logger name, level, message; the caller logs them again, as it sees fit); the processes forked."""

    def __init__(self, results: list[R], logged: list[tuple[str, int, str]], forked: int) -> None:
        self.results = results
        self.logged = logged
        self.forked = forked


def fork_map(
    items: Sequence[T],
    work: Callable[[T], R],
    processes: int,
    size: Callable[[T], int] = lambda _: 1,
    logger: str = "pyengineer",
) -> Mapped[R]:
    """`[work(item) for item in items]`, run by this process and `processes - 1` forked children.

    Call only when `fork_is_safe()`. The items go in `processes * CHUNKS_PER_PROCESS` chunks balanced by
    `size`, handed out one at a time through a pipe (each process takes the next chunk when it finishes one),
    so a chunk that turns out slow does not hold the others back. Each child sends its results back pickled
    (they must pickle) and ends with `os._exit`, never running the parent's exit handlers or flushing its
    buffers. What `logger` (and its children) logs in a child is collected and returned, not written.

    Whatever a child did not deliver (it raised, was killed, or sent something unreadable) is done again here,
    in order, so an exception `work` raises reaches the caller as it would from a serial loop, and the
    results are the serial loop's.
    """
    chunks = balanced_chunks(range(len(items)), lambda i: size(items[i]), processes * CHUNKS_PER_PROCESS)
    read_work, write_work = os.pipe()
    try:
        # Every chunk number is written before any process starts, and the write end is closed: a read of
        # _INDEX_BYTES then gets one whole number or the end (a write below PIPE_BUF is atomic, and reads of
        # one pipe are serialised), and the pipe (64 KiB on Linux) holds 16,384 of them.
        os.write(write_work, b"".join(n.to_bytes(_INDEX_BYTES, "big") for n in range(len(chunks))))
    finally:
        os.close(write_work)
    done: dict[int, R] = {}
    logged: list[tuple[str, int, str]] = []
    children: dict[int, int] = {}  # pid -> the read end of its results pipe
    try:
        for _ in range(min(processes, len(chunks)) - 1):
            read_results, write_results = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_results)
                _child(items, chunks, work, read_work, write_results, [*children.values()], logger)
            os.close(write_results)
            children[pid] = read_results
        forked = len(children)
        # This process takes chunks too instead of waiting: one process fewer to start for the same cores.
        while (number := _next_chunk(read_work)) is not None:
            for i in chunks[number]:
                done[i] = work(items[i])
        for pid in list(children):
            payload = _read_all(children[pid])
            os.close(children.pop(pid))
            os.waitpid(pid, 0)
            try:
                delivered, records = pickle.loads(payload)
            except Exception:  # killed mid-write, or nothing sent: its items are done again below
                continue
            done.update(delivered)
            logged.extend(records)
    finally:
        os.close(read_work)
        for pid, fd in children.items():  # only when this process was interrupted: stop and reap the rest
            os.close(fd)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
    results = [done[i] if i in done else work(items[i]) for i in range(len(items))]
    return Mapped(results, logged, forked)


def _next_chunk(fd: int) -> int | None:
    data = os.read(fd, _INDEX_BYTES)
    return int.from_bytes(data, "big") if len(data) == _INDEX_BYTES else None


def _read_all(fd: int) -> bytes:
    parts: list[bytes] = []
    while part := os.read(fd, 1 << 16):
        parts.append(part)
    return b"".join(parts)


def _child(
    items: Sequence[T],
    chunks: list[list[int]],
    work: Callable[[T], R],
    read_work: int,
    write_results: int,
    inherited: list[int],
    logger: str,
) -> NoReturn:
    """A forked worker: take chunks until there are none, send what was done, exit. Never returns."""
    code = 0
    try:
        for fd in inherited:  # the other children's results pipes: not ours to hold open
            os.close(fd)
        collector = _Collector()
        log = logging.getLogger(logger)
        log.handlers = [collector]
        log.propagate = False
        delivered: dict[int, R] = {}
        try:
            while (number := _next_chunk(read_work)) is not None:
                for i in chunks[number]:
                    delivered[i] = work(items[i])
        except BaseException:  # what was done is still sent; the parent does the rest, and raises as it
            code = 1
        payload = memoryview(pickle.dumps((delivered, collector.records), protocol=pickle.HIGHEST_PROTOCOL))
        while payload:
            payload = payload[os.write(write_results, payload) :]
    except BaseException:
        code = 1
    finally:
        os._exit(code)
