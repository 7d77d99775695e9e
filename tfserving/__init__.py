"""Everything about the model server: TF Serving config and a compatible Python server."""
