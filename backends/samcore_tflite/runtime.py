"""The TFLite interpreter: LiteRT's ``ai_edge_litert`` first, ``tflite_runtime`` as a fallback.

``ai_edge_litert.interpreter.Interpreter`` is the maintained successor of
``tflite_runtime``; the latter is used only where ai_edge_litert is missing and
``tflite_runtime`` both imports and runs a model (its wheels are built against NumPy 1
and fail under NumPy 2). Nothing here is imported before a backend is used.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

#: What LiteRT's C++ code prints on stderr the first time a process applies XNNPACK.
XNNPACK_NOTICE = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
_notice_filtered = False


@functools.cache
def interpreter_class() -> tuple[type, str, str]:
    """(Interpreter class, module name, version) of the first usable runtime; raises
    ImportError naming both when neither works."""
    errors = []
    try:
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert", getattr(ai_edge_litert, "__version__", "unknown")
    except Exception as exc:  # ImportError, or a broken native library
        errors.append(f"ai_edge_litert: {exc!r}")
    try:
        import tflite_runtime
        from tflite_runtime.interpreter import Interpreter

        _smoke_test(Interpreter)
        return Interpreter, "tflite_runtime", getattr(tflite_runtime, "__version__", "unknown")
    except Exception as exc:
        errors.append(f"tflite_runtime: {exc!r}")
    raise ImportError("no usable TFLite runtime (pip install ai-edge-litert): " + "; ".join(errors))


def _smoke_test(interpreter: type) -> None:
    """Run a one-operator model (written by hand: no schema module without ai_edge_litert)."""
    import numpy as np

    it = interpreter(model_content=_ADD_MODEL)
    it.allocate_tensors()
    index = it.get_input_details()[0]["index"]
    it.set_tensor(index, np.array([1.5], np.float32))
    it.invoke()
    if float(it.get_tensor(it.get_output_details()[0]["index"])[0]) != 3.0:
        raise RuntimeError("the smoke-test model computed a wrong value")


def open_interpreter(path: str, num_threads: int | None) -> Any:
    """An allocated interpreter for a .tflite file (XNNPACK on the CPU where the runtime has
    it), with ``num_threads`` threads (None: one per CPU; the runtime's own default is one)."""
    interpreter, _, _ = interpreter_class()
    it = interpreter(model_path=path, num_threads=num_threads if num_threads is not None else os.cpu_count() or 1)
    with _without_xnnpack_notice():
        it.allocate_tensors()
    return it


@contextlib.contextmanager
def _without_xnnpack_notice() -> Iterator[None]:
    """Drop ``XNNPACK_NOTICE`` (written to file descriptor 2 by the runtime, once per process,
    at the first allocation); anything else written to stderr meanwhile is passed on."""
    global _notice_filtered
    if _notice_filtered:
        yield
        return
    _notice_filtered = True
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not line.startswith(XNNPACK_NOTICE)))


# y = x + x on float32 [1]: a minimal TFLite flatbuffer (schema v3, written by ``writer.serialize``),
# for the fallback's smoke test.
_ADD_MODEL = bytes.fromhex(
    "1c00000054464c33140020001c001800140010000c00000008000400140000001c00000094000000940000009c000000"
    "a00000007c01000003000000010000001000000000000a0010000c00080004000a0000000c0000001c0000003c000000"
    "0f00000073657276696e675f64656661756c7400010000000c00000008000c0008000400080000000100000004000000"
    "0100000079000000010000000c0000000000060008000400060000000400000001000000780000000000000001000000"
    "040000000cffffff0000000000000000010000001400000000000e001800140010000c00080004000e00000014000000"
    "1c0000005c0000006000000064000000040000006d61696e00000000010000001400000000000e001400000010000c00"
    "0b0004000e000000100000000000000b0c0000001000000080ffffff0100000001000000020000000000000000000000"
    "01000000010000000100000000000000020000003000000004000000e4ffffff080000000c0000000100000079000000"
    "01000000010000000c000c0008000000000004000c000000080000000c00000001000000780000000100000001000000"
    "01000000080000000400040004000000"
)
