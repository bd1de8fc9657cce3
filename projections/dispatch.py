"""Folds chosen by the event's type: one dictionary lookup per event, not a chain of
``isinstance`` tests.

The portfolio fold tested each event against up to 45 classes in turn (its own chain and the
ageing fold's), 33 tests an event on average; chosen by class, a fresh fold of 1.08M events
takes 3.06 s of CPU instead of 4.05 s (``verify``; the read-model runner folds the same way).
A ``TypeDispatch``
holds one function per event class; an event's function is found by its exact class, or for
a subclass through its bases (as ``isinstance`` would), once per class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

State = TypeVar("State")
Fold = TypeVar("Fold", bound=Callable[..., None])


class TypeDispatch(Generic[State]):
    """The fold of each event class registered (``on``); other events are not folded."""

    def __init__(self) -> None:
        self._registered: dict[type, Callable[[State, Any], None]] = {}
        self._resolved: dict[type, Callable[[State, Any], None] | None] = {}

    def on(self, *classes: type) -> Callable[[Fold], Fold]:
        """Register the decorated function as the fold of each of ``classes``."""

        def register(function: Fold) -> Fold:
            for cls in classes:
                if cls in self._registered:
                    raise ValueError(f"{cls.__name__} already has a fold")
                self._registered[cls] = function
            self._resolved.clear()
            return function

        return register

    def fold(self, state: State, event: object) -> None:
        """Fold ``event`` into ``state`` with its class's function, if it has one."""
        cls = type(event)
        try:
            function = self._resolved[cls]
        except KeyError:
            function = self._resolved[cls] = self._function_of(cls)
        if function is not None:
            function(state, event)

    def handles(self, cls: type) -> bool:
        """Whether events of ``cls`` are folded."""
        return self._function_of(cls) is not None

    def _function_of(self, cls: type) -> Callable[[State, Any], None] | None:
        for base in cls.__mro__:
            function = self._registered.get(base)
            if function is not None:
                return function
        return None
