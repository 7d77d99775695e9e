"""covertype: forest cover type prediction with Keras, served the TensorFlow Serving way."""

__version__ = "0.1.0"
