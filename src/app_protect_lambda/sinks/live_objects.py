"""Finding the objects created before instrumentation that need a hook of their own.

A patched class or function covers every object made later; a connection of a C type made
before (``sqlite3.connect`` at module scope, then ``@protect``) is found here, once per
instrumentation, and given its driver's hook. The garbage collector knows every container
object alive, wherever it is held (a module global, an attribute, a pool's list): one
``gc.get_objects()`` and a filter by exact type that runs in C, with no Python frame per
object. Instrumentors that need it say so with ``live_object_hooks``, only once their driver is
imported: no driver, no scan.

The cost is one pass over the heap, once per instrumentation. ``python -m bench.early_connections``
on 1,019,727 live objects: ``instrument()`` 37 ms CPU, of which ``gc.get_objects()`` 12 ms and the
filter 24 ms (0.1 ms with no driver imported); a Lambda heap after importing boto3 holds a few
hundred thousand. The filter as ``itertools.compress`` over ``map(type)`` took 34-40 ms on
3.10-3.13; a list comprehension testing ``type(obj) in hooks`` took 47-52 ms on 3.10 and 3.11.
"""
from __future__ import annotations

import gc
from itertools import compress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

# The subclasses of a driver's class that are searched for too (user-defined connection factories).
MAX_SUBCLASSES = 256


def with_subclasses(base: type, skip: Callable[[type], bool]) -> list[type]:
    """``base`` and its subclasses, breadth first and bounded, without those ``skip`` names."""
    found: list[type] = []
    queue = [base]
    seen: set[type] = set()
    while queue and len(seen) < MAX_SUBCLASSES:
        cls = queue.pop(0)
        if cls in seen:
            continue
        seen.add(cls)
        if not skip(cls):
            found.append(cls)
        queue.extend(cls.__subclasses__())
    return found


def adopt(hooks: Mapping[type, Callable[[Any], Any]]) -> int:
    """Call ``hooks[type(obj)](obj)`` for every live object whose exact type is a key; return how many."""
    if not hooks:
        return 0
    objects = gc.get_objects()
    try:
        matches = list(compress(objects, map(hooks.__contains__, map(type, objects))))
    finally:
        del objects  # the list holds every object alive: never keep it longer than the filter
    failure: Exception | None = None
    for obj in matches:
        try:
            hooks[type(obj)](obj)
        except Exception as error:  # one connection that cannot take its hook does not cost the others theirs
            failure = failure or error
    if failure is not None:
        raise failure
    return len(matches)
