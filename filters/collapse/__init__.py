"""Collapse indicators, reference snapshots and the n-gram model of the recursive-training benchmark."""
