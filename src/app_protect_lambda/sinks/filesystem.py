"""filesystem sinks (being built)."""
INSTRUMENTORS: list = []
