"""Finding live objects by exact type through the collector: wherever they are held, bounded, one failure
does not cost the others their hook."""
from __future__ import annotations

import pytest

from app_protect_lambda.sinks.live_objects import MAX_SUBCLASSES, adopt, with_subclasses


class Connection:
    pass


class Subclassed(Connection):
    pass


class Ours(Connection):
    ours = True


def test_every_holder_is_found_and_only_exact_types() -> None:
    held = {"global": Connection(), "nested": [[Connection()]], "attribute": type("Holder", (), {})()}
    held["attribute"].connection = Subclassed()
    skipped = Ours()
    seen: list[object] = []
    hooks = dict.fromkeys(with_subclasses(Connection, lambda cls: getattr(cls, "ours", False)), seen.append)
    assert adopt(hooks) == 3
    assert {id(obj) for obj in seen} == {id(held["global"]), id(held["nested"][0][0]),
                                         id(held["attribute"].connection)}
    assert all(obj is not skipped for obj in seen)


def test_a_hook_that_fails_on_one_object_still_runs_on_the_others() -> None:
    objects = [Connection(), Connection(), Connection()]
    seen: list[object] = []

    def hook(obj: object) -> None:
        if obj is objects[0]:
            raise RuntimeError("closed")
        seen.append(obj)

    with pytest.raises(RuntimeError, match="closed"):
        adopt({Connection: hook})
    assert sum(obj is objects[1] or obj is objects[2] for obj in seen) == 2


def test_nothing_to_find_costs_no_scan() -> None:
    assert adopt({}) == 0


def test_subclasses_are_bounded() -> None:
    base = type("Base", (), {})
    made = [type(f"Sub{index}", (base,), {}) for index in range(MAX_SUBCLASSES * 2)]
    assert len(with_subclasses(base, lambda cls: False)) <= MAX_SUBCLASSES
    assert made
