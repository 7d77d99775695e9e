"""TensorFlow runtime errors as ServingErrors: the same code, the message without graph noise."""

import re

import tensorflow as tf

from tfserving.errors import ServingError, code_from_number

# "{{function_node ...}}" prefixes and " [Op:Name] name:" suffixes of TF's messages.
_NOISE = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\]( name:\s*\S*)?")


def runtime_error(error: tf.errors.OpError) -> ServingError:
    """A TensorFlow runtime error with its code and the message without graph noise.

    Session::Run reports a failing op with its node (`[[{{node x}}]]`) and, in graph
    mode, a "Graph execution error" banner; the client gets the first lines, which
    say what went wrong and where.
    """
    kept = []
    message = _NOISE.sub("", error.message)
    for line in message.splitlines():
        stripped = line.strip()
        if stripped.startswith("[[") or stripped.startswith("Detected at node"):
            continue
        if stripped in ("", "Graph execution error:", "<stack traces unavailable>"):
            continue
        kept.append(stripped)
    return ServingError(code_from_number(error.error_code), " ".join(kept) or error.message)
