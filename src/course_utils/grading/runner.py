"""Running one submission: a fresh kernel per notebook, under time, memory and output limits."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from course_utils.grading.plan import cell_source
from course_utils.grading.types import DENIED_MARK, EXPORT_MIME, MAX_MESSAGE, Limits, RunResult

TIMEOUT_ENAME = "CourseGraderCellTimeout"  # the error nbclient reports for a cell over its time limit


def _make_client_class():
    """A NotebookClient that caps stored output, written against nbclient's public interface.

    ``output`` is the public method through which nbclient stores every output message; the
    cells that hit the time limit are recorded by the ``on_cell_executed`` hook, which receives
    the ``error_on_timeout`` reply for them.
    """
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        def __init__(self, *args: Any, max_output: int = 256 * 1024, **kwargs: Any):
            super().__init__(*args, on_cell_executed=self._record_timeout, **kwargs)
            self.max_output, self.output_size = max_output, 0
            self.timed_out: set[int] = set()  # indices of cells stopped at the time limit
            self.cell_output: dict[int, int] = {}  # output bytes per cell index
            self.flooded: set[int] = set()  # cells interrupted for printing too much

        def _record_timeout(self, cell: Any, cell_index: int, execute_reply: Mapping[str, Any]) -> None:
            if execute_reply.get("content", {}).get("ename") == TIMEOUT_ENAME:
                self.timed_out.add(cell_index)

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
            content = msg.get("content", {})
            if EXPORT_MIME in content.get("data", {}):
                return super().output(outs, msg, display_id, cell_index)
            size = len(json.dumps(content, default=str))
            self.output_size += size
            self.cell_output[cell_index] = self.cell_output.get(cell_index, 0) + size
            if self.cell_output[cell_index] > self.max_output and cell_index not in self.flooded:
                self.flooded.add(cell_index)  # stop a print loop before it fills the kernel's memory
                if self.km is not None:
                    asyncio.ensure_future(self.km.interrupt_kernel())
            if self.output_size > self.max_output:
                return None
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def _kernel_env(hidden_paths: Iterable[str]) -> dict[str, str]:
    """The grader's environment minus anything that points at the hidden tree or grader files."""
    hidden = [h for h in hidden_paths if h]
    env = {k: v for k, v in os.environ.items() if not any(h in v for h in hidden)}
    env.pop("JPY_PARENT_PID", None)
    env["PYTHONNOUSERSITE"] = "1"
    return env


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


def collect_outputs(
    nb: Any, export_ids: list[str], timed_out: set[int], limits: Limits, flooded: bool = False, output_size: int = 0
) -> RunResult:
    """What an executed notebook says: the exports (untrusted text), and notes on the student's cells.

    Pure: it reads the cells' outputs only, so it is tested without a kernel.
    """
    result = RunResult()
    first_export = len(nb.cells) - len(export_ids)
    for k, cell in enumerate(nb.cells):
        outputs = cell.get("outputs", [])
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if k == 0:
            if errors:
                result.notes.append("The grader's guard cell failed; ask your instructor.")
            continue
        if k < first_export:
            label = f"Cell {k} of the exercise section"
            if k in timed_out:
                result.notes.append(f"{label} did not finish within {limits.cell_timeout:g} s and was interrupted.")
            for o in errors:
                if DENIED_MARK in str(o.get("evalue", "")):
                    result.notes.append(f"{label} tried a forbidden operation, which was blocked.")
                elif o.get("ename") != TIMEOUT_ENAME:
                    result.notes.append(f"{label} raised {o.get('ename')}: {o.get('evalue', '')}"[:MAX_MESSAGE])
            continue
        exercise_id = export_ids[k - first_export]
        if k in timed_out:
            result.timed_out.add(exercise_id)
        for o in outputs:
            data = o.get("data", {}) if o.get("output_type") == "display_data" else {}
            payload = data.get(EXPORT_MIME)
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
) -> RunResult:
    """Execute guard + cells + export cells in a fresh kernel under the limits; never raises.

    ``prefix`` is the command the kernel starts behind (bwrap and prlimit, see ``sandbox``);
    ``sandboxed`` kernels are interrupted by a message, since a signal would end the sandbox.
    """
    from nbclient.exceptions import DeadKernelError

    from course_utils.grading.sandbox import kernel_manager

    token = os.urandom(8).hex()  # marks every process of this run, for the final check
    env = {**env, RUN_MARK: token}
    nb = build_notebook(guard, cells, exports)
    km = kernel_manager(workdir, prefix or [], interrupt_by_message=sandboxed)
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
    )
    started, killed, stopped = time.monotonic(), [], None
    dog = asyncio.ensure_future(_watchdog(client, started, limits, killed))
    try:  # async_execute starts the kernel and shuts it down again, also when a cell fails
        await asyncio.wait_for(
            client.async_execute(  # cleanup_kc: shut the kernel and its channels down, although we made the manager
                cwd=str(workdir), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cleanup_kc=True
            ),
            limits.notebook_timeout + 60,
        )
    except asyncio.TimeoutError:  # the watchdog should have ended it first
        stopped = f"The notebook did not finish within {limits.notebook_timeout:g} s."
    except DeadKernelError:
        stopped = "The kernel died (the notebook crashed it, e.g. os._exit or a crash)."
    except Exception as err:  # kernel failed to start, protocol errors
        stopped = f"The notebook could not be run: {type(err).__name__}: {err}"[:MAX_MESSAGE]
    finally:
        dog.cancel()
        pid = _kernel_pid(client)
        if pid is not None:
            _kill_tree(pid)  # and whatever the kernel started
        survivors = await _stop_survivors(token)
    result = collect_outputs(
        nb, [i for i, _ in exports], client.timed_out, limits, bool(client.flooded), client.output_size
    )
    result.stopped = killed[0] if killed else stopped
    result.seconds = time.monotonic() - started
    result.survivors, result.mark = survivors, token
    return result


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
