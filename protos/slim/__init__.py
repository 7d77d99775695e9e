"""Slim, wire-compatible subset of TensorFlow Serving's API (package `covertype.slim`).

Same field numbers and types as `tensorflow_serving/apis/*.proto` and
`tensorflow/core/framework/*.proto`, so the bytes are interchangeable, but a
different proto package, so these descriptors live beside the official ones in
one process. Only messages are declared: clients call the real method paths
(`/tensorflow.serving.PredictionService/Predict`, ...) with them.
"""
