"""engage-import contract."""
