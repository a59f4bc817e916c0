"""invite-scheduler service."""
