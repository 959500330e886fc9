"""The one code walker of the checks (course_utils.checking.reachable) and the source the hidden checks ship.

framework_references, names_used, referenced_objects and uses_logaddexp are thin functions over
reachable; chapter 2's hidden check runs the same walker and tripwire in the student's kernel, from
their source (kernel_module_source). What the walker claims is tested here: aliases, module-level
variables, closures, defaults, nested functions and helpers up to a depth. What it does not claim
is tested too: a name built from strings at run time is left to the run-time tripwire.
"""

from __future__ import annotations

import builtins
import dis
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from course_utils.checking import (
    call_without_logaddexp,
    framework_references,
    kernel_module_source,
    names_used,
    reachable,
    referenced_objects,
    uses_logaddexp,
)


def define(source: str, **namespace) -> dict:
    """The namespace a notebook cell of `source` leaves (NumPy imported as np)."""
    namespace = {"np": np, **namespace}
    exec(compile(source, "<cell>", "exec"), namespace)
    return namespace


def holds(objects, obj) -> bool:
    return any(o is obj for o in objects)


def test_an_alias_and_an_import_under_another_name_reach_the_object():
    cell = define(
        "_lae = np.logaddexp\nfrom numpy import logaddexp2 as _x\ndef f(z):\n    return _lae.reduce(z) + _x(z, z)\n"
    )
    found = reachable(cell["f"])
    assert holds(found.roots, np.logaddexp) and holds(found.roots, np.logaddexp2)
    assert holds(found.objects, np.logaddexp.reduce) or any(
        getattr(o, "__self__", None) is np.logaddexp for o in found.objects
    )
    assert {"_lae", "_x", "reduce", "z"} <= found.names
    assert uses_logaddexp(cell["f"])


def test_a_module_level_variable_holding_a_framework_module_is_a_root():
    import scipy.special

    cell = define("_special = scipy.special\ndef f(x):\n    return _special.huber(1.0, x)\n", scipy=scipy)
    assert holds(reachable(cell["f"]).roots, scipy.special)
    assert framework_references(cell["f"]) == ["scipy"]


def test_closures_defaults_and_nested_functions_are_read():
    cell = define(
        "def make(fn):\n"
        "    def f(x, how=np.exp, *, extra=np.log1p):\n"
        "        inner = lambda y: [np.sqrt(v) for v in y]\n"
        "        def nested(y):\n            return np.tanh(y)\n"
        "        return fn(x) + how(x) + extra(x) + inner(x)[0] + nested(x)\n"
        "    return f\n"
        "f = make(np.logaddexp.reduce)\n"
    )
    found = reachable(cell["f"])
    for obj in (np.exp, np.log1p):  # defaults
        assert holds(found.roots, obj)
    assert any(getattr(o, "__self__", None) is np.logaddexp for o in found.roots)  # the closure cell
    assert {"sqrt", "tanh", "inner", "nested", "v", "y"} <= found.names  # nested code objects
    assert holds(found.objects, np.sqrt) and holds(found.objects, np.tanh)  # np.<name>, one level down
    assert uses_logaddexp(cell["f"])


def test_helpers_are_followed_breadth_first_up_to_the_depth():
    cell = define(
        "def h4(x):\n    return np.logaddexp(x, x)\n"
        "def h3(x):\n    return h4(x)\n"
        "def h2(x):\n    return h3(x)\n"
        "def h1(x):\n    return h2(x)\n"
        "def f(x):\n    return h1(x) + h3(x)\n"  # h3 is one call away too
    )
    assert "logaddexp" in names_used(cell["f"], depth=2)  # f -> h3 -> h4
    assert "logaddexp" not in names_used(cell["f"], depth=1)
    assert "logaddexp" not in names_used(cell["h1"], depth=2)  # h1 -> h2 -> h3 stops there
    assert "logaddexp" in names_used(cell["h1"], depth=3)


def test_a_local_variable_does_not_look_up_the_global_of_its_name():
    cell = define("lae = np.logaddexp\ndef f(x):\n    lae = np.max(x)\n    return x - lae\n")
    assert not holds(referenced_objects(cell["f"]), np.logaddexp)
    assert "lae" in names_used(cell["f"])
    assert not uses_logaddexp(cell["f"])


def test_library_functions_are_not_walked():
    cell = define("def f(x):\n    return np.mean(x)\n", mean=np.mean)
    found = reachable(cell["f"])
    assert holds(found.objects, np.mean)
    assert "asanyarray" not in found.names  # np.mean's own code (numpy) is not read


def test_a_literal_name_is_seen_but_a_name_built_at_run_time_is_not_claimed():
    literal = define("def f(z):\n    return getattr(np, 'logaddexp').reduce(z)\n")["f"]
    built = define("def f(z):\n    return getattr(np, ''.join(['log', 'addexp'])).reduce(z)\n")["f"]
    assert uses_logaddexp(literal)
    assert not uses_logaddexp(built)  # no reading of the code sees it: the tripwire does
    z = np.arange(6.0).reshape(2, 3)
    result, used = call_without_logaddexp(built, z)
    assert used and np.allclose(result, np.logaddexp.reduce(z))
    assert np.logaddexp is vars(np)["logaddexp"]  # the real ufunc is back
    assert call_without_logaddexp(lambda v: np.max(v), z) == (5.0, False)


def test_objects_without_code_reach_nothing():
    for fn in (None, 3, np.exp, print):
        found = reachable(fn)
        assert found.names == frozenset() and found.roots == () and found.objects == ()
    assert not uses_logaddexp(None) and framework_references(np.exp) == []


SHIPPED_PROBE = """
_cell = {"np": np}
exec("_lae = np.logaddexp\\ndef alias(z):\\n    return _lae.reduce(z)\\n"
     "def built(z):\\n    return getattr(np, ''.join(['log', 'addexp'])).reduce(z)\\n"
     "def plain(z):\\n    return z.max(axis=1)\\n", _cell)
print(_walker.uses_logaddexp(_cell["alias"]), _walker.uses_logaddexp(_cell["built"]),
      _walker.uses_logaddexp(_cell["plain"]))
print(_walker.call_without_logaddexp(_cell["built"], np.ones((2, 3)))[1],
      _walker.call_without_logaddexp(_cell["plain"], np.ones((2, 3)))[1])
"""


def test_the_shipped_source_needs_nothing_but_its_own_module():
    """Every global name the shipped functions load is defined by the shipped source or a builtin."""
    namespace: dict = {}
    exec(kernel_module_source("_walker"), namespace)
    module = namespace["_walker"]
    assert set(namespace) - {"__builtins__"} == {"_walker"}  # one name left in the kernel's namespace
    functions = [v for v in vars(module).values() if isinstance(v, types.FunctionType)]
    functions += [v for c in vars(module).values() if isinstance(c, type) for v in vars(c).values()]
    missing = set()
    for fn in functions:
        if not isinstance(fn, types.FunctionType) or fn.__globals__ is not vars(module):
            continue
        codes = [fn.__code__]
        while codes:
            code = codes.pop()
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
            for ins in dis.get_instructions(code):
                if ins.opname == "LOAD_GLOBAL" and ins.argval not in vars(module) and ins.argval not in vars(builtins):
                    missing.add((fn.__name__, ins.argval))
    assert not missing, missing
    cell = define("_x = np.logaddexp\ndef f(z):\n    return _x.reduce(z)\n")
    assert module.uses_logaddexp(cell["f"]) and uses_logaddexp(cell["f"])


@pytest.mark.slow  # a Python process of its own (about a second)
def test_the_shipped_walker_runs_where_no_framework_and_no_course_utils_can_be_imported():
    """The kernel of the NumPy-only second grading (HiddenCheck.fresh_kernel) has NumPy and nothing else."""
    from course_utils.grading.kernel_side import framework_blocker_source
    from course_utils.grading.sandbox import framework_folders
    from course_utils.watch import FRAMEWORKS

    probe = (
        framework_blocker_source(FRAMEWORKS, [f + os.sep for f in framework_folders()])
        + "import sys\nsys.modules['course_utils'] = None\nimport numpy as np\n"
        + kernel_module_source("_walker")
        + SHIPPED_PROBE
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["True False False", "True False"], done
