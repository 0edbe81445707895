"""Integrations with other Django shop frameworks (each an optional extra)."""
