"""network sinks (being built)."""
INSTRUMENTORS: list = []
