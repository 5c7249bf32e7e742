"""What every component shares: a name, a version, typed params and an availability check."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from abc import ABC
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Base of every component's parameters: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=(), allow_inf_nan=False)


AnyParams = Params  # the base class, under a name the `Params` attribute below does not shadow


class Component(ABC):  # noqa: B024 (the kinds below declare the abstract methods)
    """A named, versioned, parameterised part of a recipe.

    Subclasses set `name`, `Params` and, when their outputs change, bump `version` so that
    cached features computed by the old code are not reused.
    """

    kind: ClassVar[str] = ""
    kind_label: ClassVar[str] = "component"
    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    Params: ClassVar[type[AnyParams]] = AnyParams
    # Python modules and executables the component needs; missing ones make it "unavailable".
    requires_modules: ClassVar[tuple[str, ...]] = ()
    requires_executables: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = ""
    # Old names that still find this component for a release after a rename, with a warning (docs/api.md).
    aliases: ClassVar[tuple[str, ...]] = ()
    # Params that never change the component's outputs (batch sizes, timeouts...): not in cache keys.
    cache_exempt: ClassVar[frozenset[str]] = frozenset()
    # Params added after the component's outputs were first cached: left out of the identity while they hold
    # their default, so a new option whose default keeps the old outputs doesn't invalidate anyone's cache.
    added_params: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, params: AnyParams | None = None) -> None:
        self.params = params if params is not None else self.Params()

    @classmethod
    def summary(cls) -> str:
        """The first line of the component's docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why the component cannot run here, or None; checked without importing anything heavy."""
        missing = [m for m in cls.requires_modules if importlib.util.find_spec(m) is None]
        missing += [f"executable '{e}'" for e in cls.requires_executables if shutil.which(e) is None]
        if not missing:
            return None
        hint = f" ({cls.install_hint})" if cls.install_hint else ""
        return f"missing {', '.join(missing)}{hint}"

    @classmethod
    def conformance_params(cls, folder: Path) -> dict | None:
        """Params for `mmgenre.testing`'s checks (they may write small local files, e.g. tiny weights, into
        `folder`); None: the defaults."""
        return None

    def identity(self) -> dict:
        """What determines this component's outputs: the basis of its cache key."""
        params = self.params.model_dump(mode="json", exclude=set(self.cache_exempt))
        for name in self.added_params:
            if getattr(self.params, name) == self.Params.model_fields[name].get_default(call_default_factory=True):
                params.pop(name, None)
        return {"kind": self.kind, "name": self.name, "version": self.version, "params": params}

    def fingerprint(self) -> str:
        """A short stable hash of `identity()`."""
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"
