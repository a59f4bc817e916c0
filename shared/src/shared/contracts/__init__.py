"""Pydantic models of the public contract, one module per service."""
