"""Browser tests: pages the project serves, rendered by a real headless Chromium."""
