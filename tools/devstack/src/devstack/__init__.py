"""The embedded development stack: NATS, PostgreSQL and SMTP from PyPI packages,
plus a supervisor for the four services. Used by ``make run`` and the tests."""
