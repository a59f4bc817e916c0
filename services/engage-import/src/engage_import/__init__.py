"""engage-import service."""
