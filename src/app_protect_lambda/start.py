"""``import app_protect_lambda.start`` as the first import of a handler module instruments every sink.

Modules imported after it bind the instrumented functions, so even
``from subprocess import check_output`` is protected.
"""
from .sinks import instrument

instrument()
