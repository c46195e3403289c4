"""Shared code of incytes-billing: domain services, ports, adapters and models (the SAM layer)."""
