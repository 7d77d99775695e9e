"""The FastAPI gateway: domain REST API in front of the model server; holds no TensorFlow."""
