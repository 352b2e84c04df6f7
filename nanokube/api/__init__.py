"""The resource model: pure functions over plain dicts, no I/O."""
