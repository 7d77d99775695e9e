"""Small TF1-style SavedModels (tf.compat.v1 graphs and placeholders) for the server's tests.

- `export_half_plus_two`: y = 0.5 * x + 2 on x declared [None, 1] (TF Serving's own test
  model, rebuilt), with Classify/Regress signatures whose method_name is
  `tensorflow/serving/predict`, as in every TF2 export.
- `export_gated`: answers only once a file exists. Its signature takes the path of a
  file it writes when the run starts (`started`) and of the file it waits for
  (`release`), so a test knows a request is running and decides when it ends.
"""

from pathlib import Path

import tensorflow as tf

SERVE = tf.compat.v1.saved_model.SERVING
PREDICT_METHOD = "tensorflow/serving/predict"
NAP_MICROS = 10_000  # the gated model checks for its release file every 10 ms


def _save(session: tf.compat.v1.Session, path: Path, signatures: dict) -> Path:
    builder = tf.compat.v1.saved_model.Builder(str(path))
    builder.add_meta_graph_and_variables(session, [SERVE], signature_def_map=signatures)
    builder.save()
    return path


def _with_method(signature: object, method: str) -> object:
    signature.method_name = method  # type: ignore[attr-defined]
    return signature


def export_half_plus_two(path: Path) -> Path:
    """The half_plus_two model at `path` (a version folder)."""
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float32, [None, 1], name="x")
        half = tf.Variable(0.5, name="a")
        y = tf.add(half * x, 2.0, name="y")
        serialized = tf.compat.v1.placeholder(tf.string, [None], name="tf_example")
        parsed = tf.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([1], tf.float32)})
        from_example = tf.add(half * parsed["x"], 2.0, name="y_from_example")
        session.run(tf.compat.v1.global_variables_initializer())
        build = tf.compat.v1.saved_model
        return _save(
            session,
            path,
            {
                "serving_default": build.predict_signature_def({"x": x}, {"y": y}),
                "classify_x_to_y": _with_method(
                    build.classification_signature_def(serialized, None, from_example),
                    PREDICT_METHOD,
                ),
                "regress_x_to_y": _with_method(
                    build.regression_signature_def(serialized, from_example), PREDICT_METHOD
                ),
            },
        )


def export_gated(path: Path) -> Path:
    """The gated model at `path`: y = 2x + 1 once `release` exists, after writing `started`."""
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        started = tf.compat.v1.placeholder(tf.string, [], name="started")
        release = tf.compat.v1.placeholder(tf.string, [], name="release")
        x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
        two = tf.Variable(2.0, name="two")

        def waiting(naps: tf.Tensor) -> tf.Tensor:
            return tf.equal(tf.size(tf.io.matching_files(release)), 0)

        def nap(naps: tf.Tensor) -> list[tf.Tensor]:
            one = tf.raw_ops.TensorDataset(components=[naps], output_shapes=[[]])
            asleep = tf.raw_ops.SleepDataset(
                input_dataset=one,
                sleep_microseconds=tf.constant(NAP_MICROS, tf.int64),
                output_types=[tf.int64],
                output_shapes=[[]],
            )
            element = tf.raw_ops.DatasetToSingleElement(
                dataset=asleep, output_types=[tf.int64], output_shapes=[[]]
            )
            return [element[0] + 1]

        with tf.control_dependencies([tf.io.write_file(started, "")]):
            naps = tf.while_loop(waiting, nap, [tf.constant(0, tf.int64)])[0]
        with tf.control_dependencies([naps]):
            y = tf.identity(two * x + 1.0, name="y")
        signature = tf.compat.v1.saved_model.predict_signature_def(
            {"started": started, "release": release, "x": x}, {"y": y}
        )
        session.run(tf.compat.v1.global_variables_initializer())
        return _save(session, path, {"serving_default": signature})
