"""Ctrl-C in ``python -m sim``: the first stops the command cleanly, a second at once.

The first Ctrl-C raises ``KeyboardInterrupt``, as Python's own handler does:
a sweep then stops its launcher's workers and says how to report or resume
(``sim.callbacks.end_of_command``). That shutdown is joblib's (loky), and a
second Ctrl-C during it used to hang the command: the terminal sends SIGINT
to the whole process group, so it also kills the ``pgrep`` that loky runs to
find a worker's children; loky's fallback then fails (its ``Popen`` has no
``kill``), its shutdown thread dies without killing the workers, and at exit
Python waits for those workers, which wait for work until loky's idle
timeout (5 minutes), or run the next point.

So a second Ctrl-C raises nothing: it kills every process the command
started (its descendants, except the resource trackers, which end on their
own once the command has, cleaning up after it), says how to resume, and
ends the command by SIGINT (status 130 in the shell). What the killed
processes were writing stays under hidden temporary names, never under a
final name (``sim.output.atomic_open``); the next run in that folder removes
them.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

_presses = 0
_owner: int | None = None
"""The process that installed the handler: processes forked from it (the
pools of ``sim.parallel``) inherit it, and there it only raises."""


TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
"""Signals that end the command from outside (``kill``, a closed terminal, a
scheduler): handled like a second Ctrl-C, or the workers would outlive it."""


def install() -> None:
    """Handle SIGINT as above, and SIGTERM and SIGHUP as a second Ctrl-C (only
    from the main thread, and only signals that are not ignored)."""
    global _owner
    if threading.current_thread() is not threading.main_thread():
        return
    _owner = os.getpid()
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)
    for signum in TERMINATING:
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _on_terminate)


def _on_terminate(signum: int, frame: object) -> None:
    """SIGTERM or SIGHUP: kill the command's processes, say how to resume,
    and end by the same signal (a forked worker just ends by it)."""
    if os.getpid() == _owner:
        for other in TERMINATING:
            signal.signal(other, signal.SIG_IGN)  # a second one must not cut this short
        name = signal.Signals(signum).name
        _stop(f"gridgov: stopped by {name}; every worker process was killed", signum)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _on_sigint(signum: int, frame: object) -> None:
    global _presses
    _presses += 1
    if _presses == 1 or os.getpid() != _owner:
        raise KeyboardInterrupt
    stop_now()


def _trackers() -> set[int]:
    """The resource trackers of multiprocessing and loky: left to end on their own."""
    pids = set()
    for name in ("multiprocessing.resource_tracker", "joblib.externals.loky.backend.resource_tracker"):
        tracker = getattr(sys.modules.get(name), "_resource_tracker", None)
        pid = getattr(tracker, "_pid", None)
        if isinstance(pid, int):
            pids.add(pid)
    return pids


def descendants(pid: int | None = None) -> list[int]:
    """Living (not zombie) descendants of a process, parents before children.

    Read from ``/proc`` (Linux); elsewhere, this process's multiprocessing
    children and the workers of loky's executor (which hold no children of
    their own in a sweep).
    """
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return _known_children() if pid is None else []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:  # ended meanwhile
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split()
        if fields[0] in (b"Z", b"X"):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(0), []):
            out.append(child)
            todo.append(child)
    return out


def _known_children() -> list[int]:
    import multiprocessing

    pids = {p.pid for p in multiprocessing.active_children() if p.pid is not None}
    executor = getattr(sys.modules.get("joblib.externals.loky.reusable_executor"), "_executor", None)
    pids.update(getattr(executor, "_processes", None) or {})
    return sorted(pids)


def kill_descendants() -> list[int]:
    """Kill every process this one started (but the resource trackers); return their ids.

    Each is stopped first, until no new one appears (loky's threads in this
    process may still be starting workers), so that none starts a child that
    outlives it; then all are killed.
    """
    keep = _trackers()
    stopped: list[int] = []
    for _ in range(50):
        new = [p for p in descendants() if p not in keep and p not in stopped]
        if not new:
            break
        for p in new:
            try:
                os.kill(p, signal.SIGSTOP)
            except OSError:
                continue
            stopped.append(p)
        time.sleep(0.01)
    for p in stopped:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    return stopped


def stop_now() -> None:
    """The second Ctrl-C: kill the command's processes and end it by SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a third Ctrl-C must not cut this short
    _stop("gridgov: stopped at once (second Ctrl-C); every worker process was killed", signal.SIGINT)


def _stop(text: str, signum: int) -> None:
    """Kill every process the command started, say ``text`` and how to finish
    a sweep left unfinished, and end the command by ``signum``."""
    kill_descendants()
    callbacks = sys.modules.get("sim.callbacks")  # imported only by a sweep
    if callbacks is not None:
        callbacks.drop_shared()  # its workers are gone
    hint = callbacks.finish_hint() if callbacks is not None else None
    if callbacks is not None:
        callbacks.drop_unplanned_sweep()  # a folder holding only its lock: nothing to resume
    end_by_sigint(text + (f"; {hint}" if hint else ""), signum)


def end_by_sigint(text: str | None, signum: int = signal.SIGINT) -> None:
    """Print ``text`` (if any) and end the command by SIGINT (or ``signum``),
    as Python does after an uncaught KeyboardInterrupt (status 130 in the shell).

    What the command has printed so far is flushed first: the signal ends
    the process without emptying Python's buffers (a run's table printed to
    a pipe or file just before Ctrl-C was lost)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - e.g. a flush already under way in the main thread
            pass
    if text:
        try:
            os.write(2, (text + "\n").encode())  # not print(): this may run inside a print of the main thread
        except OSError:  # no terminal left (the hang-up this may be ending by), a full disk: end all the same
            pass
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)  # pragma: no cover - the signal has ended the process
