"""The component registry: plugins found through entry points, components looked up by kind and name."""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import entry_points

import pluggy
from pydantic import ValidationError

from mmgenre import hookspecs
from mmgenre.components import KINDS, Component
from mmgenre.errors import RecipeError, RegistryError, UnknownComponentError

ENTRY_POINT_GROUP = "mmgenre"


@dataclass(frozen=True)
class Registered:
    """A component class and the plugin that registered it."""

    component: type[Component]
    plugin: str


@dataclass
class PluginInfo:
    """A loaded plugin: its entry-point name, the package that ships it and the hooks it implements."""

    name: str
    package: str
    version: str
    hooks: list[str] = field(default_factory=list)


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
        self.plugin_manager = plugin_manager
        self.plugins = plugins
        self._by_kind: dict[str, dict[str, Registered]] = {kind: {} for kind in KINDS}
        for hook_name, kind in hookspecs.HOOK_KINDS.items():
            for impl in getattr(plugin_manager.hook, hook_name).get_hookimpls():
                try:
                    impl.function(register=partial(self._add, kind, impl.plugin_name))
                except RegistryError:
                    raise
                except Exception as error:  # a broken plugin is left out alone; the others still work
                    warnings.warn(
                        f"plugin '{impl.plugin_name}' failed in {hook_name} ({type(error).__name__}: {error}): "
                        "its components are left out",
                        stacklevel=2,
                    )
        by_name = {p.name: p for p in plugins}
        for hook_name in hookspecs.HOOK_KINDS:
            for impl in getattr(plugin_manager.hook, hook_name).get_hookimpls():
                if impl.plugin_name in by_name:
                    by_name[impl.plugin_name].hooks.append(hook_name)

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
            warnings.warn(
                f"plugin '{plugin}' registered a {KINDS[kind].label} named {str(component.name)[:80]!r}: names are "
                "lowercase slugs (letters, digits, '.', '_', '-'; at most 64), so it is left out",
                stacklevel=2,
            )
            return
        table = self._by_kind[kind]
        if component.name in table:
            other = table[component.name].plugin
            raise RegistryError(
                f"{KINDS[kind].label} '{component.name}' is registered by two plugins: "
                f"'{other}' and '{plugin}'. Pick another name in one of them."
            )
        table[component.name] = Registered(component, plugin)

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
        available = self.names(kind)
        at = f" at {where}" if where else ""
        raise UnknownComponentError(
            f"unknown {kind_label(kind)} '{name}'{at}.{did_you_mean(name, available)} "
            f"Available: {', '.join(available) or '(none)'}"
        )

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


def load_plugins() -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """Load every plugin of the `mmgenre` entry-point group; a plugin that fails to import is skipped."""
    manager = pluggy.PluginManager("mmgenre")
    manager.add_hookspecs(hookspecs)
    plugins = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = entry.dist
        package = dist.metadata["Name"] if dist else "?"
        try:
            module = entry.load()
        except Exception as error:  # a broken third-party plugin must not break the CLI
            warnings.warn(f"plugin '{entry.name}' from {package} failed to load: {error}", stacklevel=2)
            continue
        if manager.get_plugin(entry.name) is not None:
            raise RegistryError(f"two packages provide a plugin called '{entry.name}'")
        manager.register(module, name=entry.name)
        plugins.append(PluginInfo(entry.name, package, dist.version if dist else "?"))
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise RegistryError(f"a plugin implements a hook mmgenre does not define: {error}") from None
    return manager, plugins
