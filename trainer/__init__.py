"""Trainer: validate data, train, evaluate and publish numbered SavedModel versions."""
