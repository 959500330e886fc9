"""Which libraries a function *runs*: the framework refusal of the NumPy-only exercises.

An exercise that asks for NumPy code is checked against Keras, so an answer that calls Keras or
TensorFlow would pass without the skill. Reading the names a function spells cannot tell: an alias
(``import keras.losses as kl``), a module-level variable, ``importlib.import_module``, ``getattr``, a
callable object, a closure or an import hook all hide the library behind another name. So the
checks watch what executes instead: :func:`watched_call` calls the function with a profile hook
(``sys.setprofile``, which also reports calls of C functions) and notes every executed function
whose code lies in a framework's package folder or whose module is a framework's, however it was
reached. Nothing about the student's function is read; only what runs counts.

The hook also notes *tampering* while it watches: removing or reading the hook, starting a thread
(whose calls a per-thread hook would not see) or reaching for frames, and a ``sys.setprofile`` that
is not the interpreter's own. Any of these counts as a refusal, so a wrong or forged watcher fails
closed.

:func:`watched_call` uses no module-level name: the hidden checks ship its source into the
student's kernel (``inspect.getsource``), where nothing the student patched in ``course_utils``
can change it.

Limits, since the watcher runs in a process the student's code shares: its hook sees the thread
that calls the function, so work handed to a thread started *earlier* (a worker waiting on a queue)
is not seen by the hook; such a thread is refused instead, when any thread other than the caller's
runs code outside the standard library and the installed packages before or after the call. A
notebook that rewrites the code objects of Keras itself (new ``co_filename`` and
``__module__`` for every function it runs) is not seen; and the hidden checks trust the export
channel, so a notebook that forges the whole export (see the threat model) can also forge the
watcher's list. The grader closes these outside this module: it grades every NumPy-only exercise
a second time in a fresh kernel where no framework can be imported (``HiddenCheck.fresh_kernel``),
and the lower verdict counts.
"""

from __future__ import annotations

__all__ = ["FRAMEWORKS", "GRAPH_RUNS", "watched_call"]


def watched_call(
    fn,
    args=(),
    kwargs=None,
    frameworks=("keras", "tensorflow", "tf_keras", "jax", "jaxlib", "torch", "scipy", "sklearn", "optax"),
    refused_names=None,
    time_limit=None,
):
    """Call fn(*args, **kwargs) while noting every framework function that runs.

    Returns ``(outcome, used)``: outcome is ``("ok", result)`` or ``("error", exception)`` (a
    ``NotImplementedError`` included), and used is a sorted list of what was refused: framework
    package names (``"keras"``), or ``"tampering: ..."`` notes. The hook is removed whatever happens.
    ``frameworks`` are the top-level packages whose code is refused (by default everything that
    computes what a NumPy exercise asks for). With ``refused_names`` (for an exercise that must use
    TensorFlow operations but not the one function that answers it), only framework functions of
    those names (or names that start with one: ``..._v2``) are refused, noted as ``"package.name"``;
    a refused name with a dot (``"course_utils.training.train_loop"``) refuses the Python function of
    that module and name wherever it lies, noted as written. ``sys._getframe`` called from a
    framework's own code (Keras' optimizers and ``tf.function`` read frames) is no tampering.

    With ``time_limit`` (seconds on the monotonic clock) the hook also stops a call that runs longer:
    the next function call after the limit raises ``TimeoutError`` in the watched code, and the
    outcome is ``("error", TimeoutError)`` even if that code caught it (the hook is gone by then, so
    the rest of the call ran unwatched). The checks use it to refuse answers that take hours, such as
    a numerical derivative per entry of a large array, where no grader's cell timeout applies (a
    check run in the notebook or in the tests' own process).
    """
    import importlib.util
    import os
    import sys
    import sysconfig
    import time

    builtin = type(len)
    own = sys._getframe(0).f_code
    used = set()

    def genuine(f, name):
        """The interpreter's own sys function, not a replacement a notebook assigned."""
        return type(f) is builtin and getattr(f, "__self__", None) is sys and f.__name__ == name

    setprofile, getprofile = sys.setprofile, sys.getprofile
    if not (genuine(setprofile, "setprofile") and genuine(getprofile, "getprofile")):
        return ("error", RuntimeError("sys.setprofile was replaced")), ["tampering: sys.setprofile replaced"]

    roots = []
    for top in frameworks:
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        for folder in (spec.submodule_search_locations or []) if spec is not None else []:
            roots.append(os.path.realpath(folder) + os.sep)
    roots = tuple(roots)
    tops = frozenset(frameworks)
    forbidden_c = {
        "setprofile": "sys.setprofile",
        "settrace": "sys.settrace",
        "getprofile": "sys.getprofile",
        "gettrace": "sys.gettrace",
        "_getframe": "sys._getframe",
        "start_new_thread": "a new thread",
        "start_joinable_thread": "a new thread",
        "get_referrers": "gc",
        "get_referents": "gc",
        "get_objects": "gc",
        "setswitchinterval": "sys.setswitchinterval",
    }
    realpath = os.path.realpath
    op_runners = ("quick_execute", "execute_with_cancellation")
    c_op_runners = ("TFE_Py_Execute", "TFE_Py_ExecuteCancelable", "TFE_Py_FastPathExecute")

    def top_of(name):
        return name.split(".", 1)[0] if isinstance(name, str) else None

    dotted = tuple(n for n in (refused_names or ()) if "." in n)  # "module.function", any package

    def refuse(top, what):
        if refused_names is None:
            used.add(top)
        elif isinstance(what, str) and what.startswith(tuple(refused_names)):
            used.add(top + "." + what)

    def note_module(name, what):
        top = top_of(name)
        if top in tops:
            refuse(top, what)

    owners = {}  # file name -> the framework folder it lies in, or None (realpath is slow)

    def owner_of(filename):
        if not isinstance(filename, str) or not roots:
            return None
        if filename not in owners:
            path = realpath(filename)
            owners[filename] = next((r for r in roots if path.startswith(r)), None)
        return owners[filename]

    paths = sysconfig.get_paths()
    libraries = tuple(
        {realpath(paths[k]) + os.sep for k in ("stdlib", "platstdlib", "purelib", "platlib") if paths.get(k)}
    )
    in_library = {}  # file name -> whether it lies in the standard library or an installed package

    def framework_reads_frame(frame):
        """Whether the code that reaches for a frame is a framework's: the nearest caller outside
        the standard library and other installed packages (inspect.currentframe, typing_extensions)
        lies in a framework's folder. Code of the notebook or of a file of its own is the student's."""
        while frame is not None and frame.f_code is not own:
            filename = frame.f_code.co_filename
            if owner_of(filename) is not None:
                return True
            if filename not in in_library:
                in_library[filename] = isinstance(filename, str) and (
                    filename.startswith("<frozen ") or realpath(filename).startswith(libraries)
                )
            if not in_library[filename]:
                return False
            frame = frame.f_back
        return False

    def note_file(filename, what):
        root = owner_of(filename)
        if root is not None:
            refuse(os.path.basename(root.rstrip(os.sep)), what)
        return root

    # refused framework functions by where their code lies: a copy of one under another name
    # (types.FunctionType on its code object with co_name and co_qualname replaced) still starts at
    # the same line of the same file. Found as attributes of the framework modules already imported.
    located = {}  # (co_filename, co_firstlineno) -> "package.name"
    plain = tuple(n for n in (refused_names or ()) if "." not in n)
    if plain:

        def unwrap(f):
            for _ in range(100):  # decorators' functools.wraps chains (tf_export, dispatch)
                inner = getattr(f, "__wrapped__", None)
                if inner is None:
                    break
                f = inner
            return f

        wanted = [v for n in plain for v in (n, n + "_v1", n + "_v2")]
        for module_name, module in list(sys.modules.items()):
            top = top_of(module_name)
            if top not in tops or module is None:
                continue
            for attr in wanted:
                try:
                    f = module.__dict__.get(attr) if type(module.__dict__) is dict else None
                    f = unwrap(f) if f is not None else None
                    code = getattr(f, "__code__", None)
                except Exception:
                    continue
                if type(code).__name__ == "code":
                    located.setdefault((code.co_filename, code.co_firstlineno), top + "." + attr)

    # refused functions of other packages ("course_utils.training.train_loop") by where their code
    # lies too: a copy with another name, or the same file loaded as another module, starts at the
    # same line of the same file
    dotted_located = {}  # (co_filename, co_firstlineno) -> "module.function"
    for entry in dotted:
        module_name, _, attr = entry.rpartition(".")
        try:
            module = sys.modules.get(module_name) or importlib.import_module(module_name)
            code = getattr(getattr(module, attr, None), "__code__", None)
        except Exception:
            continue
        if type(code).__name__ == "code":
            dotted_located[(code.co_filename, code.co_firstlineno)] = entry

    def profile(frame, event, arg):
        if event == "call":
            code = frame.f_code
            if dotted_located:
                where = dotted_located.get((code.co_filename, code.co_firstlineno))
                if where is not None:
                    used.add(where)
            if note_file(code.co_filename, code.co_name) is not None and refused_names is not None:
                # framework code renamed: its qualified name and its place in the file stay
                qualname = getattr(code, "co_qualname", code.co_name)
                note_file(code.co_filename, qualname.rsplit(".", 1)[-1])
                where = located.get((code.co_filename, code.co_firstlineno))
                if where is not None:
                    used.add(where)
            module = frame.f_globals.get("__name__")
            note_module(module, code.co_name)
            if dotted and isinstance(module, str) and f"{module}.{code.co_name}" in dotted:
                used.add(f"{module}.{code.co_name}")
            if refused_names is not None and code.co_name in op_runners:
                # TensorFlow's Python function that runs an op by its type name: the name is an argument
                op = frame.f_locals.get("op_name")
                op = op.decode() if isinstance(op, bytes) else op
                if isinstance(op, str) and op.startswith(tuple(refused_names)):
                    used.add("tensorflow." + op)
        elif event == "c_call":
            if frame.f_code is own:
                return  # the watcher removing itself
            name = getattr(arg, "__name__", "")
            owner = getattr(arg, "__self__", None)
            if name in forbidden_c and (owner is sys or type(owner).__name__ == "module" or owner is None):
                # Keras and TensorFlow read frames themselves (an optimizer's apply, tf.function):
                # a frame read from a framework's own code is no tampering, one from the student's is
                if not (name == "_getframe" and framework_reads_frame(frame)):
                    used.add("tampering: " + forbidden_c[name])
            if refused_names is not None and name in c_op_runners and not framework_reads_frame(frame):
                # the C function that runs an op by its type name, called by the student's own code
                used.add("tensorflow." + name)
            note_module(getattr(arg, "__module__", None), name)
            if owner is not None:
                if type(owner).__name__ == "module":
                    note_module(getattr(owner, "__name__", None), name)
                    note_file(getattr(owner, "__file__", None), name)
                else:
                    note_module(getattr(type(owner), "__module__", None), name)

    # TensorFlow ops run by type name (tf.raw_ops, or its private execute functions) never run a
    # refused Python function: with refused_names, every op TensorFlow executes eagerly or adds to a
    # graph being traced is also checked by its type ("SoftmaxCrossEntropyWithLogits")
    op_callbacks = sys.modules.get("tensorflow.python.framework.op_callbacks")
    eager_context = sys.modules.get("tensorflow.python.eager.context")

    def op_hook(op_type, inputs, attrs, outputs, op_name=None, graph=None):
        name = op_type.decode() if isinstance(op_type, bytes) else str(op_type)
        if name.startswith(tuple(refused_names)):
            used.add("tensorflow." + name)
        return None

    hooked = refused_names is not None and None not in (op_callbacks, eager_context)
    if hooked:
        op_callbacks.add_op_callback(op_hook)
    clock = time.monotonic
    deadline = None if time_limit is None else clock() + float(time_limit)
    late = []  # set once the limit passed: the hook raised TimeoutError and was removed

    def timed_profile(frame, event, arg):
        if deadline is not None and not late and event in ("call", "c_call") and frame.f_code is not own:
            if clock() > deadline:
                late.append(True)
                raise TimeoutError(f"the call ran longer than {time_limit:g} s and was stopped")
        profile(frame, event, arg)

    import _thread

    def busy_threads():
        """Whether another thread runs code of the notebook's own: a worker started *before* the call
        (waiting on a queue) would do the refused work where the per-thread hook cannot see it. A
        thread whose every frame lies in the standard library or an installed package (the
        kernel's own threads) is not the student's."""
        try:
            frames = sys._current_frames()
        except Exception:
            return True
        me = _thread.get_ident()
        for ident, frame in frames.items():
            while ident != me and frame is not None:
                filename = frame.f_code.co_filename
                if filename not in in_library:
                    in_library[filename] = isinstance(filename, str) and (
                        filename.startswith("<frozen ") or realpath(filename).startswith(libraries)
                    )
                if not in_library[filename]:
                    return True
                frame = frame.f_back
        return False

    threads_before = busy_threads()
    hook = profile if deadline is None else timed_profile
    setprofile(hook)
    try:
        outcome = ("ok", fn(*args, **(kwargs or {})))
    except (Exception, SystemExit) as err:  # the caller decides what an error means
        outcome = ("error", err)
    finally:  # an interrupt still propagates, with the hook removed
        still = getprofile()
        setprofile(None)
        if hooked:
            present = op_hook in eager_context.context().op_callbacks
            if present:
                op_callbacks.remove_op_callback(op_hook)
            else:
                used.add("tampering: the op watcher was removed")
    if late:
        outcome = ("error", TimeoutError(f"the call ran longer than {time_limit:g} s and was stopped"))
    elif still is not hook:
        used.add("tampering: the watcher was removed")
    if threads_before or busy_threads():
        used.add("tampering: a thread of the notebook's own code")
    return outcome, sorted(used)


FRAMEWORKS: tuple[str, ...] = watched_call.__defaults__[2]  # type: ignore[index]

GRAPH_RUNS: tuple[str, ...] = (
    # a tf.function or ConcreteFunction (also tf.compat.v1.wrap_function, a loaded SavedModel)
    "call_flat",
    "_call_flat",
    "call_preflattened",
    "call_function",
    # a TF1 graph run by tf.compat.v1.Session (run, partial_run, make_callable, Tensor.eval)
    "_do_run",
    "_call_tf_session",
    "TF_SessionRun",
    "TF_SessionPRun",
    # raw ops that call a function traced in advance
    "partitioned_call",
    "stateful_partitioned_call",
    "remote_call",
    "symbolic_gradient",
    "stateless_if",
    "stateless_while",
    "stateless_case",
    "tensorflow.python.ops.gen_functional_ops._if",
    "tensorflow.python.ops.gen_functional_ops._while",
    "tensorflow.python.ops.gen_functional_ops._for",
    "tensorflow.python.ops.gen_functional_ops.case",
    # a tf.data pipeline built in advance, and Python run from inside a graph
    "iterator_get_next",
    "dataset_to_single_element",
    "reduce_dataset",
    "py_func",
    "eager_py_func",
    "numpy_function",
    "_internal_py_func",
)
"""``refused_names`` that refuse running a graph built before the watched call: with them, an exercise
that refuses one TensorFlow function by name (ch02's weighted cross-entropy) also refuses that function
traced in advance into a ``tf.function``, a ``tf.compat.v1.Session`` graph, a raw functional op, a
``tf.data`` pipeline or a ``tf.py_function``, where the refused name itself never runs in Python during
the call. Code that builds the answer from TensorFlow operations eagerly calls none of them."""
