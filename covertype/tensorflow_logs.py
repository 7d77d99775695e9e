"""TensorFlow's native start-up lines, hidden unless asked for (`covertype --verbose`).

Importing TensorFlow prints lines from C++ before Python logging exists: CUDA probes on a
machine without a GPU, CPU feature notes, absl's "before InitializeLog" warning. They
say nothing a user can act on, so every command that needs TensorFlow imports it through
`import_tensorflow`, which sends those lines nowhere unless the import fails (then they
are shown, since they may explain why). `--verbose` sets `COVERTYPE_VERBOSE=1`, which
child processes inherit, and keeps every line.
"""

import os
import sys
import tempfile
from types import ModuleType

VERBOSE_VARIABLE = "COVERTYPE_VERBOSE"


def verbose() -> bool:
    """Whether the user asked for TensorFlow's native logs."""
    return os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0")


def import_tensorflow() -> ModuleType:
    """`import tensorflow`, quietly unless verbose; returns the module."""
    if verbose() or "tensorflow" in sys.modules:
        import tensorflow

        return tensorflow
    # Filters what TensorFlow logs from C++ once absl is initialised (the CUDA probe
    # on first use); errors reach Python as exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.buffer.write(captured.read())
            sys.stderr.flush()
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tensorflow
