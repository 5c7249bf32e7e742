"""The component registry: plugins found through entry points, components looked up by kind and name."""

from __future__ import annotations

import copy
import difflib
import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pluggy
from pydantic import ValidationError

from mmgenre import hookspecs
from mmgenre.components import KINDS, Component
from mmgenre.errors import RecipeError, RegistryError, UnknownComponentError

ENTRY_POINT_GROUP = "mmgenre"
BUILT_IN_PACKAGE = "mmgenre"  # the distribution whose plugins win a name clash
RECIPES_HOOK = "register_recipes"
log = logging.getLogger("mmgenre")


@dataclass(frozen=True)
class Registered:
    """A component class and the plugin that registered it."""

    component: type[Component]
    plugin: str


@dataclass(frozen=True)
class PluginRecipe:
    """A recipe file a plugin ships (through the `register_recipes` hook), under its file's stem."""

    name: str
    path: Path
    plugin: str


@dataclass
class PluginInfo:
    """An installed plugin: its entry-point name, the package that ships it, the hooks it implements, and whether
    it is loaded ("ok") or left out ("failed": it does not import or misbehaves in a hook; "clash": a name it
    registers is taken), with the reason."""

    name: str
    package: str
    version: str
    hooks: list[str] = field(default_factory=list)
    status: str = "ok"
    reason: str = ""
    module: str = ""  # the entry point's target, e.g. "mmgenre_my_head"

    @property
    def loaded(self) -> bool:
        return self.status == "ok"

    def leave_out(self, status: str, reason: str) -> None:
        """Mark the plugin as left out, and say so once per process on stderr (the CLI's WARNING lines)."""
        self.status, self.reason = status, reason
        message = f"plugin '{self.name}' ({self.package} {self.version}) is left out: {reason}"
        if message not in _REPORTED:
            _REPORTED.add(message)
            log.warning("%s (see `mmgenre plugins`)", message)


_REPORTED: set[str] = set()  # messages already shown: several registries in one process say each once


class NameClash(RegistryError):
    """Two plugins register the same name in one kind."""


class ComponentRenamedWarning(FutureWarning):
    """A recipe or command used a component's old name (an alias): shown to users, unlike DeprecationWarning."""


COMPONENT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")  # in recipes, cache namespaces and paths


def kind_label(kind: str) -> str:
    return KINDS[kind].label


def closest(name: str, candidates: list[str]) -> list[str]:
    """Candidates that look like a misspelling of `name`, best first."""
    return difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)


def did_you_mean(name: str, candidates: list[str]) -> str:
    matches = closest(name, candidates)
    return f" Did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""


class Registry:
    """Every component registered by the loaded plugins, by kind and name. Build one with `from_entry_points()`
    and hand it to what needs it: there is no process-wide registry, so two can live side by side."""

    def __init__(self, plugin_manager: pluggy.PluginManager, plugins: list[PluginInfo]) -> None:
        """Run each plugin's hooks, plugin by plugin (the built-in ones first): a plugin that fails in a hook,
        registers something that is not a component, or takes a name another plugin registered first, is left
        out whole, with its status and reason in `plugins`; the others work as if it were not installed."""
        self.plugin_manager = plugin_manager
        self.plugins = plugins
        self._by_kind: dict[str, dict[str, Registered]] = {kind: {} for kind in KINDS}
        self._aliases: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}  # old name -> new name
        self._warned: set[tuple[str, str]] = set()  # (kind, old name) already warned about: once per registry
        self._recipes: dict[str, PluginRecipe] = {}
        calls = hook_calls(plugin_manager)
        by_name = {p.name: p for p in plugins}
        for name in calls:
            if name not in by_name:  # registered on the manager directly (tests, embedding applications)
                by_name[name] = PluginInfo(name, "?", "?")
                plugins.append(by_name[name])
        for info in plugins:
            info.hooks = [hook_name for hook_name, _ in calls.get(info.name, [])]
            if info.loaded:
                self._load(info, calls.get(info.name, []))

    def _load(self, info: PluginInfo, calls: list[tuple[str, Any]]) -> None:
        """Run one plugin's hooks; on any problem, undo what it registered and leave it out."""
        saved = copy.deepcopy({key: value for key, value in vars(self).items() if key.startswith("_")})
        try:
            for hook_name, function in calls:
                if hook_name == RECIPES_HOOK:
                    function(register=partial(self._add_recipe, info.name))
                else:
                    function(register=partial(self._add, hookspecs.HOOK_KINDS[hook_name], info.name))
        except NameClash as error:
            vars(self).update(saved)
            info.leave_out("clash", f"{error} '{info.name}' is left out")
        except Exception as error:  # a broken plugin is left out alone; the others still work
            vars(self).update(saved)
            reason = str(error) if isinstance(error, RegistryError) else f"{type(error).__name__}: {error}"
            info.leave_out("failed", f"{hook_name} failed: {reason}")

    def _add_recipe(self, plugin: str, path: str | os.PathLike) -> None:
        """`register(path)` in `register_recipes`: a YAML recipe file, named by its stem."""
        recipe = Path(path)
        if recipe.suffix not in (".yaml", ".yml") or not recipe.is_file():
            raise RegistryError(
                f"plugin '{plugin}' registered the recipe {str(path)[:200]!r}, which is not a .yaml file"
            )
        if not COMPONENT_NAME.match(recipe.stem):
            raise RegistryError(f"plugin '{plugin}' registered the recipe {recipe.stem[:80]!r}: names are slugs")
        if recipe.stem in self._recipes:
            other = self._recipes[recipe.stem].plugin
            raise NameClash(f"the recipe '{recipe.stem}' is shipped by two plugins: '{other}' and '{plugin}'.")
        self._recipes[recipe.stem] = PluginRecipe(recipe.stem, recipe, plugin)

    def recipes(self) -> list[PluginRecipe]:
        """The recipes the loaded plugins ship, by name."""
        return [self._recipes[name] for name in sorted(self._recipes)]

    def _add(self, kind: str, plugin: str, component: type[Component]) -> None:
        base = KINDS[kind].base
        if not (isinstance(component, type) and issubclass(component, base)):
            raise RegistryError(
                f"plugin '{plugin}' registered {component!r} as a {KINDS[kind].label}, "
                f"but it is not a subclass of {base.__name__}"
            )
        if not component.name:
            raise RegistryError(f"plugin '{plugin}' registered {component.__name__} without a `name`")
        if not (isinstance(component.name, str) and COMPONENT_NAME.match(component.name)):
            log.warning(
                "plugin '%s' registered a %s named %r: names are lowercase slugs (letters, digits, '.', '_', '-'; "
                "at most 64), so it is left out",
                plugin,
                KINDS[kind].label,
                str(component.name)[:80],
            )
            return
        table = self._by_kind[kind]
        if component.name in table:
            other = table[component.name].plugin
            raise NameClash(
                f"{KINDS[kind].label} '{component.name}' is registered by two plugins: "
                f"'{other}' and '{plugin}'. Pick another name in one of them:"
            )
        table[component.name] = Registered(component, plugin)
        self._add_aliases(kind, plugin, component)

    def _add_aliases(self, kind: str, plugin: str, component: type[Component]) -> None:
        """Old names a renamed component still answers to for a release (`aliases`, see docs/api.md)."""
        label, aliases = KINDS[kind].label, self._aliases[kind]
        if component.name in aliases:
            raise RegistryError(
                f"{label} '{component.name}' from plugin '{plugin}' is an old name of '{aliases[component.name]}'"
            )
        for alias in component.aliases:
            if not (isinstance(alias, str) and COMPONENT_NAME.match(alias)) or alias == component.name:
                raise RegistryError(f"plugin '{plugin}' gave {label} '{component.name}' a bad alias {alias!r}")
            if alias in self._by_kind[kind] or alias in aliases:
                taken = aliases.get(alias, alias)
                raise RegistryError(f"{label} alias '{alias}' of '{component.name}' ('{plugin}') is taken by '{taken}'")
            aliases[alias] = component.name

    @classmethod
    def from_entry_points(cls) -> Registry:
        """Every plugin installed in the `mmgenre` entry-point group, built-in ones included."""
        return cls(*load_plugins())

    def names(self, kind: str) -> list[str]:
        return sorted(self._by_kind[kind])

    def entries(self, kind: str) -> list[Registered]:
        return [self._by_kind[kind][name] for name in self.names(kind)]

    def get(self, kind: str, name: str, where: str = "") -> type[Component]:
        """The component class called `name`; an unknown name says where, what is close and what exists."""
        table = self._by_kind[kind]
        if name in table:
            return table[name].component
        if name in self._aliases[kind]:
            renamed = self._aliases[kind][name]
            if (kind, name) not in self._warned:
                self._warned.add((kind, name))
                warnings.warn(
                    f"{kind_label(kind)} '{name}'{f' at {where}' if where else ''} is now called '{renamed}': "
                    f"use the new name, the old one will stop working in a future release",
                    ComponentRenamedWarning,
                    stacklevel=2,
                )
            return table[renamed].component
        available = self.names(kind)
        at = f" at {where}" if where else ""
        raise UnknownComponentError(
            f"unknown {kind_label(kind)} '{name}'{at}.{did_you_mean(name, available)} "
            f"Available: {', '.join(available) or '(none)'}{self.left_out_note()}"
        )

    def left_out_note(self) -> str:
        """A sentence naming the installed plugins that are left out (one of them may be what is missing)."""
        left_out = [p for p in self.plugins if not p.loaded]
        if not left_out:
            return ""
        shown = "; ".join(f"'{p.name}' ({p.package} {p.version}): {p.reason}" for p in left_out)
        return f". Installed but left out: {shown} (see `mmgenre plugins`)"

    def provenance(self, kind: str, component: Component) -> dict:
        """Which plugin and package provide a component, and its version and fingerprint (kept in run folders)."""
        registered = self._by_kind[kind][component.name]
        plugin = next((p for p in self.plugins if p.name == registered.plugin), None)
        return {
            "name": component.name,
            "plugin": registered.plugin,
            "package": plugin.package if plugin else "?",
            "package_version": plugin.version if plugin else "?",
            "version": component.version,
            "fingerprint": component.fingerprint(),
        }

    def create(self, kind: str, name: str, params: dict | None = None, key: str = "", source: str = "") -> Component:
        """Instantiate a component with validated params; bad params name the recipe key and file."""
        component = self.get(kind, name, f"{key}.name ({source})" if key else "")
        try:
            validated = component.Params.model_validate(params or {})
        except ValidationError as error:
            raise RecipeError(format_params_error(error, component, key or kind, source)) from None
        return component(validated)


def format_params_error(error: ValidationError, component: type[Component], key: str, source: str) -> str:
    """One line per bad param, with the accepted names when a key is unknown."""
    known = sorted(component.Params.model_fields)
    of = f"{component.kind_label} '{component.name}'"
    source = f", {source}" if source else ""
    lines = []
    for item in error.errors():
        param = ".".join(str(part) for part in item["loc"])
        where = f"{key}.params.{param}" if param else f"{key}.params"
        if item["type"] == "extra_forbidden":
            lines.append(
                f"unknown param '{param}' at {where} ({of}{source}).{did_you_mean(param, known)} "
                f"Accepted: {', '.join(known) or '(none)'}"
            )
        else:
            lines.append(f"bad value at {where} ({of}{source}): {item['msg']}")
    return "\n".join(lines)


def hook_calls(manager: pluggy.PluginManager) -> dict[str, list[tuple[str, Any]]]:
    """Plugin name -> (hook name, function) for each hook it implements, in the order of the hookspecs."""
    calls: dict[str, list[tuple[str, Any]]] = {}
    for hook_name in [*hookspecs.HOOK_KINDS, RECIPES_HOOK]:
        caller = getattr(manager.hook, hook_name, None)
        for impl in caller.get_hookimpls() if caller else []:
            calls.setdefault(impl.plugin_name, []).append((hook_name, impl.function))
    return calls


def load_plugins() -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """Load every plugin of the `mmgenre` entry-point group, the built-in ones first. A plugin that fails to
    import, implements a hook mmgenre does not define, or repeats another package's plugin name is left out
    alone (its PluginInfo says why); the others still load."""
    manager = pluggy.PluginManager("mmgenre")
    manager.add_hookspecs(hookspecs)
    plugins: list[PluginInfo] = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=load_order):
        dist = entry.dist
        info = PluginInfo(entry.name, dist.metadata["Name"] if dist else "?", dist.version if dist else "?")
        info.module = entry.value
        plugins.append(info)
        owner = next((p for p in plugins[:-1] if p.name == entry.name), None)
        if owner is not None:
            info.leave_out("clash", f"{owner.package} provides a plugin called '{entry.name}' already")
            continue
        register_plugin(manager, entry, info)
    return manager, plugins


def load_order(entry: EntryPoint) -> tuple[bool, str, str]:
    """Built-in plugins first, so a third-party one can never take their names; then by name."""
    package = entry.dist.metadata["Name"] if entry.dist else "?"
    return package != BUILT_IN_PACKAGE, entry.name, package


def register_plugin(manager: pluggy.PluginManager, entry: EntryPoint, info: PluginInfo) -> None:
    """Import one plugin's module and register its hooks; a failure leaves it out and keeps the others."""
    try:
        module = entry.load()
    except Exception as error:  # a broken third-party plugin must not break the CLI
        info.leave_out("failed", f"import {entry.value} failed: {type(error).__name__}: {error}")
        return
    try:
        manager.register(module, name=entry.name)
        manager.check_pending()  # the plugins before it passed: a hook it alone defines
    except Exception as error:
        if manager.get_plugin(entry.name) is not None:
            manager.unregister(name=entry.name)
        detail = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        info.leave_out("failed", f"its hooks do not match mmgenre's (mmgenre.hookspecs): {detail}")
