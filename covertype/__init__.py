"""covertype: forest cover type prediction, trained with Keras and served TensorFlow Serving style."""

__version__ = "0.1.0"
