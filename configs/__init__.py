"""YAML presets shipped with tailguard (package data; no code lives here)."""
