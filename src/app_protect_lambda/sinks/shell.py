"""shell sinks (being built)."""
INSTRUMENTORS: list = []


def finish(context):
    pass
