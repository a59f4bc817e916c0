"""Operator command line: `provisioning --help`."""
