"""Service scenarios (users.add throughput, invites due at once, engage import)."""
