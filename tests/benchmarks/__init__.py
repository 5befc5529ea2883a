"""Tests of the benchmark scripts (cheap paths only)."""
