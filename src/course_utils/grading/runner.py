"""Running one submission: a fresh kernel per notebook, under time, memory and output limits."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from course_utils.grading.plan import cell_source
from course_utils.grading.types import DENIED_MARK, EXPORT_MIME, MAX_MESSAGE, Limits, RunResult
from course_utils.grading.wording import cell_label, scrub

TIMEOUT_ENAME = "CourseGraderCellTimeout"  # the error nbclient reports for a cell over its time limit


def _make_client_class():
    """A NotebookClient that caps stored output, written against nbclient's public interface.

    ``output`` is the public method through which nbclient stores every output message; the
    cells that hit the time limit are recorded by the ``on_cell_executed`` hook, which receives
    the ``error_on_timeout`` reply for them. The hooks also time every cell on the grader's clock
    (a clock the student's code cannot patch) and note whether the guard cell ran cleanly.
    """
    from nbclient import NotebookClient
    from nbclient.util import run_sync

    class CappedClient(NotebookClient):
        def __init__(self, *args: Any, max_output: int = 256 * 1024, first_export: int = 0, **kwargs: Any):
            super().__init__(*args, on_cell_start=self._record_start, on_cell_executed=self._record_executed, **kwargs)
            self.max_output, self.output_size, self.first_export = max_output, 0, first_export
            self.timed_out: set[int] = set()  # indices of cells stopped at the time limit
            self.cell_output: dict[int, int] = {}  # output bytes per cell index
            self.flooded: set[int] = set()  # cells interrupted for printing too much
            self.exports_seen: dict[int, int] = {}  # export payloads per cell index
            self.started: dict[int, float] = {}
            self.seconds: dict[int, float] = {}  # cell index -> seconds on the grader's clock
            self.guard_ok = False  # the guard cell ran and raised nothing

        async def _async_cleanup_kernel(self) -> None:  # type: ignore[override]
            # nbclient's atexit hook calls this again after the kernel was cleaned up; then km is
            # None and the base class asserts, printing a traceback after the test summary
            if self.km is not None:
                await super()._async_cleanup_kernel()

        _cleanup_kernel = run_sync(_async_cleanup_kernel)

        def _record_start(self, cell: Any, cell_index: int) -> None:
            self.started[cell_index] = time.monotonic()

        def _record_executed(self, cell: Any, cell_index: int, execute_reply: Mapping[str, Any]) -> None:
            if cell_index in self.started:
                self.seconds[cell_index] = time.monotonic() - self.started[cell_index]
            content = execute_reply.get("content", {})
            if content.get("ename") == TIMEOUT_ENAME:
                self.timed_out.add(cell_index)
            if cell_index == 0:
                self.guard_ok = content.get("status") == "ok"

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
            content = msg.get("content", {})
            data = content.get("data", {})
            is_export = isinstance(data, Mapping) and EXPORT_MIME in data
            if is_export and cell_index >= self.first_export:
                # an export cell sends one payload; a second one is kept (bounded) so that it is seen as forged
                self.exports_seen[cell_index] = self.exports_seen.get(cell_index, 0) + 1
                if self.exports_seen[cell_index] <= 2:
                    return super().output(outs, msg, display_id, cell_index)
                return None
            size = len(json.dumps(content, default=str))
            self.output_size += size
            self.cell_output[cell_index] = self.cell_output.get(cell_index, 0) + size
            if self.cell_output[cell_index] > self.max_output and cell_index not in self.flooded:
                self.flooded.add(cell_index)  # stop a print loop before it fills the kernel's memory
                if self.km is not None:
                    asyncio.ensure_future(self.km.interrupt_kernel())
            if self.output_size > self.max_output or is_export:
                return None  # over the cap, or an export payload shown by a student's cell: dropped
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and its children, in bytes (0 if gone)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
    except psutil.Error:
        return 0


def _kill_tree(pid: int) -> None:
    """Kill a process and its children."""
    import psutil

    try:
        proc = psutil.Process(pid)
        for p in proc.children(recursive=True) + [proc]:
            try:
                p.kill()
            except psutil.Error:
                pass
    except psutil.Error:
        pass


def _kernel_pid(client: Any) -> int | None:
    """The pid of the client's kernel, once started."""
    km = getattr(client, "km", None)
    prov = getattr(km, "provisioner", None) if km is not None else None
    proc = getattr(prov, "process", None) if prov is not None else None
    return getattr(proc, "pid", None)


def build_notebook(guard: str, cells: list[Any], exports: list[tuple[str, str]]) -> Any:
    """The notebook a kernel runs: the guard cell, the exercise section's code cells, the export cells."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell(guard))
    nb.cells += [nbformat.v4.new_code_cell(cell_source(c)) for c in cells]
    nb.cells += [nbformat.v4.new_code_cell(src) for _, src in exports]
    return nb


def _exercise_of(cell: Any) -> str | None:
    """The exercise id in a planned cell's metadata, if any."""
    course = cell.get("metadata", {}).get("course", {}) if isinstance(cell, Mapping) else {}
    exercise_id = course.get("exercise") if isinstance(course, Mapping) else None
    return exercise_id if isinstance(exercise_id, str) else None


def collect_outputs(
    nb: Any,
    export_ids: list[str],
    timed_out: set[int],
    limits: Limits,
    flooded: bool = False,
    output_size: int = 0,
    positions: list[int] | None = None,
    planned: list[Any] | None = None,
) -> RunResult:
    """What an executed notebook says: the exports (untrusted text), and notes on the student's cells.

    Pure: it reads the cells' outputs only, so it is tested without a kernel. ``positions`` are the
    planned cells' numbers in the student's notebook and ``planned`` the cells themselves, so that a
    note names a cell as the student sees it (and its exercise), not by its rank among code cells.
    An export cell whose outputs carry more than one export payload was forged: none is kept.
    """
    result = RunResult()
    first_export = len(nb.cells) - len(export_ids)
    for k, cell in enumerate(nb.cells):
        outputs = cell.get("outputs", [])
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if k == 0:
            if errors:
                result.grader_error = f"the guard cell failed: {errors[0].get('ename')}: {errors[0].get('evalue')}"
            continue
        if k < first_export:
            position = positions[k - 1] if positions and k - 1 < len(positions) else k
            exercise_id = _exercise_of(planned[k - 1]) if planned and k - 1 < len(planned) else None
            label = cell_label(position, exercise_id)
            if k in timed_out:
                result.notes.append(f"{label} did not finish within {limits.cell_timeout:g} s and was interrupted.")
            for o in errors:
                if DENIED_MARK in str(o.get("evalue", "")):
                    result.notes.append(f"{label} tried a forbidden operation, which was blocked.")
                elif o.get("ename") != TIMEOUT_ENAME:
                    result.cell_errors[k - 1] = str(o.get("ename"))
                    message = scrub(f"{label} raised {o.get('ename')}: {o.get('evalue', '')}")
                    result.notes.append(message[:MAX_MESSAGE])
            continue
        exercise_id = export_ids[k - first_export]
        if k in timed_out:
            result.timed_out.add(exercise_id)
        payloads = [
            o.get("data", {}).get(EXPORT_MIME)
            for o in outputs
            if o.get("output_type") == "display_data" and isinstance(o.get("data"), Mapping)
            if EXPORT_MIME in o.get("data", {})
        ]
        if len(payloads) > 1:
            result.forged.append(exercise_id)
            continue
        for payload in payloads:
            if (
                isinstance(payload, Mapping)
                and payload.get("id") == exercise_id
                and isinstance(payload.get("json"), str)
            ):
                result.exports[exercise_id] = payload["json"]
    if output_size > limits.max_output_kb * 1024:
        result.notes.append(
            f"The notebook printed more than {limits.max_output_kb} KiB; the rest was dropped"
            + (" and the cell that printed it was interrupted." if flooded else ".")
        )
    for o in (o for c in nb.cells for o in c.get("outputs", [])):
        if o.get("output_type") == "error" and DENIED_MARK in str(o.get("evalue", "")):
            result.denied.append(str(o.get("evalue"))[:MAX_MESSAGE])
    return result


async def _watchdog(client: Any, started: float, limits: Limits, killed: list[str]) -> None:
    """Kill the kernel when it uses too much memory or the notebook runs out of time."""
    while True:
        await asyncio.sleep(0.25)
        pid = _kernel_pid(client)
        if time.monotonic() - started > limits.notebook_timeout:
            killed.append(f"The notebook did not finish within {limits.notebook_timeout:g} s and was stopped.")
        elif pid is not None and _tree_rss(pid) > limits.memory_mb * 1024 * 1024:
            killed.append(f"The kernel used more than {limits.memory_mb} MB of memory and was stopped.")
        else:
            continue
        if pid is not None:
            _kill_tree(pid)
        return


async def run_submission(
    cells: list[Any],
    exports: list[tuple[str, str]],
    workdir: Path,
    guard: str,
    limits: Limits,
    env: dict[str, str],
    prefix: list[str] | None = None,
    sandboxed: bool = False,
    positions: list[int] | None = None,
    stderr_path: Path | None = None,
) -> RunResult:
    """Execute guard + cells + export cells in a fresh kernel under the limits; never raises.

    ``workdir`` is the kernel's folder on the grader's side (its connection file and sockets);
    ``prefix`` is the command the kernel starts behind (bwrap and prlimit, see ``sandbox``);
    ``sandboxed`` kernels are interrupted by a message, since a signal would end the sandbox.
    A run whose kernel never started, or whose guard cell failed, carries a ``grader_error``:
    nothing of the student's had run, so nothing that went wrong can be the student's fault.
    """
    from nbclient.exceptions import DeadKernelError

    from course_utils.grading.sandbox import kernel_manager

    token = os.urandom(8).hex()  # marks every process of this run, for the final check
    env = {**env, RUN_MARK: token}
    nb = build_notebook(guard, cells, exports)
    # The grader's memory stays bounded whatever one message holds: a larger message from the kernel
    # is dropped by ZeroMQ before it is read (its cell then ends at its time limit).
    km = kernel_manager(workdir, prefix or [], interrupt_by_message=sandboxed, max_message=max_message_bytes(limits))
    client = _make_client_class()(
        nb,
        km=km,
        timeout=int(math.ceil(limits.cell_timeout)),
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        record_timing=False,
        startup_timeout=120,
        error_on_timeout={
            "ename": TIMEOUT_ENAME,
            "evalue": f"cell exceeded {limits.cell_timeout:g} s",
            "traceback": [],
        },
        resources={"metadata": {"path": str(workdir)}},
        max_output=limits.max_output_kb * 1024,
        first_export=len(nb.cells) - len(exports),
    )
    client.guard_ok = not guard.strip()  # nbclient skips an empty cell: no guard (tests of the sandbox alone)
    started, killed, stopped = time.monotonic(), [], None
    # the kernel's own stderr goes to a file (capped by prlimit's file size), read back only on a grader error
    stderr = open(stderr_path, "wb") if stderr_path is not None else subprocess.DEVNULL
    dog = asyncio.ensure_future(_watchdog(client, started, limits, killed))
    try:  # async_execute starts the kernel and shuts it down again, also when a cell fails
        await asyncio.wait_for(
            client.async_execute(  # cleanup_kc: shut the kernel and its channels down, although we made the manager
                cwd=str(workdir), env=env, stdout=subprocess.DEVNULL, stderr=stderr, cleanup_kc=True
            ),
            limits.notebook_timeout + 60,
        )
    except asyncio.TimeoutError:  # the watchdog should have ended it first
        stopped = f"The notebook did not finish within {limits.notebook_timeout:g} s."
    except DeadKernelError:
        stopped = "The kernel stopped unexpectedly: the notebook crashed it (for example with os._exit)."
    except Exception as err:  # kernel failed to start, protocol errors
        stopped = f"The notebook could not be run ({type(err).__name__}: {err})."[:MAX_MESSAGE]
    finally:
        dog.cancel()
        if stderr is not subprocess.DEVNULL:
            stderr.close()
        pid = _kernel_pid(client)
        if pid is not None:
            _kill_tree(pid)  # and whatever the kernel started
        survivors = await _stop_survivors(token)
    export_ids = [i for i, _ in exports]
    result = collect_outputs(
        nb, export_ids, client.timed_out, limits, bool(client.flooded), client.output_size, positions, cells
    )
    first_export = len(nb.cells) - len(exports)
    result.export_seconds = {
        i: client.seconds[first_export + j] for j, i in enumerate(export_ids) if first_export + j in client.seconds
    }
    if not client.guard_ok and result.grader_error is None:
        result.grader_error = f"the kernel did not start or the guard cell did not finish: {stopped or killed}"
    result.stopped = killed[0] if killed else stopped
    result.seconds = time.monotonic() - started
    result.survivors, result.mark = survivors, token
    return result


def max_message_bytes(limits: Limits) -> int:
    """The largest message the grader accepts from a kernel: an export, escaped, plus the output cap."""
    return 2 * limits.max_export_kb * 1024 + limits.max_output_kb * 1024 + 1024 * 1024


RUN_MARK = "COURSE_GRADER_RUN"  # environment variable that every process of a graded run inherits


def processes_of_run(token: str) -> list[Any]:
    """The live processes whose environment carries this run's mark (the kernel and all it started)."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(RUN_MARK) == token:
                found.append(proc)
        except psutil.Error:
            continue
    return found


async def _stop_survivors(token: str) -> int:
    """Kill what is left of a run and return how many processes had survived its kernel."""
    import psutil

    await asyncio.sleep(0.2)  # let the killed tree go away
    left = processes_of_run(token)
    for proc in left:
        try:
            proc.kill()
        except psutil.Error:
            pass
    return len(left)
