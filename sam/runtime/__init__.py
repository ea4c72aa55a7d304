"""A local stand-in for the Lambda execution environment: the Runtime API, the runtime's
bootstrap, and the runtime client's interpreter, so that the real ``awslambdaric`` can run
a function (with or without the layer) on this machine, without Docker.

Used by ``make demo`` (sam/demo/run_demo.py) and the end-to-end tests (tests/e2e/).
"""
