"""Sources: what an event is, and every attacker-controlled string in it."""
from .flatten import collect_inputs
from .http import Request
from .inputs import Input, Inputs
from .kinds import event_kind

__all__ = ["Input", "Inputs", "Request", "collect_inputs", "event_kind"]
