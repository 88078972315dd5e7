"""Datasets app: uploaded robot recordings and their inspected metadata."""
