"""Servables: loading SavedModels, running their signatures, predict, warmup."""
