"""Tests of the trainer: data, validation, model export, publication and the CLI."""
