"""Import TensorFlow once, quietly, before anything else in the package uses it.

TensorFlow 2.21 writes start-up notices (CUDA probing, CPU-feature hints) straight to file
descriptor 2 through its C++ logger, whatever ``TF_CPP_MIN_LOG_LEVEL`` says. Jupyter forwards that
descriptor into notebook outputs, and nbval compares them, so readers would meet a wall of
warnings and CI would fail. This module imports TensorFlow with descriptor 2 pointed at a
temporary file, lists the devices (which runs the CUDA probe now), restores descriptor 2, and then
re-prints every captured line that is *not* one of the known start-up notices: nothing else is
swallowed.

Importing :mod:`ewc_helpers` before TensorFlow is all a user needs to do.
"""

from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Substrings of TensorFlow's harmless start-up notices (dropped); anything else is re-printed.
KNOWN_NOTICES = (
    "All log messages before absl::InitializeLog() is called",
    "cudart_stub.cc",
    "cuda_platform.cc",
    "cuda_executor.cc",
    "cuda_diagnostics.cc",
    "cpu_feature_guard.cc",
    "To enable the following instructions",
    "oneDNN custom operations are on",
    "Unable to register cu",
    "computation_placer",
    "TF-TRT Warning",
)


def filter_notices(text: str) -> list:
    """The lines of ``text`` that are not known TensorFlow start-up notices."""
    return [
        line for line in text.splitlines()
        if line.strip() and not any(marker in line for marker in KNOWN_NOTICES)
    ]


def import_tensorflow_quietly():
    """Import TensorFlow (once) without its start-up notices; return the module."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe logs here, while captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        leftover = filter_notices(capture.read().decode("utf-8", errors="replace"))
    if leftover:
        print("\n".join(leftover), file=sys.stderr)
    return tf


import_tensorflow_quietly()
