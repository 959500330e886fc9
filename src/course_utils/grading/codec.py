"""The JSON codec of exported values: never pickle, since the kernel is under the student's control.

:func:`encode_default` also runs inside the student's kernel (its source is shipped with each
export cell), so it imports what it needs itself and uses no module-level name.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

_DTYPES = {
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
}


def encode_default(obj):
    """json.dumps default= hook: NumPy arrays and scalars, tensors (also run inside kernels)."""
    import numpy

    if hasattr(obj, "numpy") and callable(obj.numpy):
        obj = obj.numpy()
    if isinstance(obj, numpy.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype), "shape": list(obj.shape)}
    if isinstance(obj, numpy.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot export a value of type {type(obj).__name__}")


def _decode_object(d: dict[str, Any]) -> Any:
    """json object_hook: rebuild the NumPy arrays written by :func:`encode_default`."""
    if "__ndarray__" not in d:
        return d
    if set(d) != {"__ndarray__", "dtype", "shape"} or d["dtype"] not in _DTYPES:
        raise ValueError("malformed array in the export")
    shape = d["shape"]
    if not isinstance(shape, list) or not all(isinstance(n, int) and 0 <= n < 2**31 for n in shape):
        raise ValueError("malformed array shape in the export")
    arr = np.asarray(d["__ndarray__"], dtype=d["dtype"])  # OverflowError or ValueError on bad values
    return arr.reshape(shape)


def encode(value: Any) -> str:
    """Serialize an export with the codec."""
    return json.dumps(value, default=encode_default, allow_nan=True)


def decode(text: str, max_chars: int = 4096 * 1024) -> Any:
    """Parse an export, refusing oversized or malformed input (raises ValueError)."""
    if not isinstance(text, str) or len(text) > max_chars:
        raise ValueError("export missing or too large")
    try:
        return json.loads(text, object_hook=_decode_object)
    except ValueError as err:  # invalid JSON, a malformed array, an integer of thousands of digits
        raise ValueError(f"malformed export ({str(err)[:80]})") from None
    except (RecursionError, TypeError, OverflowError, MemoryError) as err:  # deep nesting, wrong types, huge values
        raise ValueError(f"malformed export ({type(err).__name__})") from None
