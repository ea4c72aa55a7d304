"""A stand-in for the managed Python runtime's ``/var/runtime/bootstrap.py``.

The runtime starts ``$AWS_LAMBDA_EXEC_WRAPPER <python> /var/runtime/bootstrap.py``; this
script then does what that one does before handing over to the runtime client:
- the handler comes from ``_HANDLER`` (not from the arguments);
- ``LAMBDA_TASK_ROOT`` goes first on ``sys.path``; the layers' ``/opt/python`` and
  ``/opt/python/lib/python3.X/site-packages`` follow, but only when ``PYTHONPATH`` is unset;
- then the real ``awslambdaric`` runs the handler against ``AWS_LAMBDA_RUNTIME_API``.

``LOCAL_LAMBDA_OPT`` says where this machine's ``/opt`` is (default ``/opt``). Runs as a
script under the runtime's interpreter, so it imports nothing from this repository.
"""
import os
import sys


def set_sys_path() -> None:
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    paths = [task_root]
    if "PYTHONPATH" not in os.environ:
        opt = os.environ.get("LOCAL_LAMBDA_OPT", "/opt")
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        paths += [os.path.join(opt, "python", "lib", version, "site-packages"), os.path.join(opt, "python")]
    sys.path[:0] = [p for p in paths if p not in sys.path]


def main() -> None:
    set_sys_path()
    handler = os.environ.get("_HANDLER")
    if not handler:
        sys.exit("bootstrap: _HANDLER is not set")
    from awslambdaric.__main__ import main as runtime_client

    runtime_client([sys.argv[0], handler])


if __name__ == "__main__":
    # Run as a script, sys.path[0] is this file's directory: the real one is /var/runtime, which holds
    # no user code. Drop it, so that this repository's directories do not shadow the function's modules.
    sys.path.pop(0)
    main()
