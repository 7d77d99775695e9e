"""Request batching, after TF Serving's: a shared batch scheduler and a batching session."""
