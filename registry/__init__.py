"""The model registry: versions committed by manifests, their states, labels, history and data,
in a local folder or an S3-compatible bucket; and `covertype sync`, which makes a registry
servable by one model server. Imports no TensorFlow.

Entry point: `registry.uri.open_registry(uri) -> registry.registry.Registry`.
"""
