"""Pydantic models shared by handlers, domain and adapters."""
