"""Sources: where aspired versions come from (the file system, polled)."""
