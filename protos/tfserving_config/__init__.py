"""Wire-compatible subsets of TF Serving config protos missing from tensorflow-serving-api."""
