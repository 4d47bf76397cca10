"""A module that fails while it is imported, for the settings checks (routines.E004)."""

raise RuntimeError("this module is broken on purpose")
