"""Contracts and the messaging kit shared by the provisioning services."""

__version__ = "0.1.0"
