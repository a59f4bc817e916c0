"""identity service: extensions, users, credentials, roles, sign-in and sessions."""
