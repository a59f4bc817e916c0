"""invite-scheduler contract."""
