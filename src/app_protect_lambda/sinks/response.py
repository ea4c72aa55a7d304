"""Response checks (being built)."""


def check(context, response):
    return response
