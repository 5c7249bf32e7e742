"""Errors a user can act on: the CLI prints them as `Error: ...` without a traceback."""


class MmgenreError(Exception):
    """Base of every error caused by input the user controls (recipes, data, weights, keys)."""


class RecipeError(MmgenreError):
    """A recipe that cannot be loaded or validated."""


class UnknownComponentError(RecipeError):
    """A component name that no plugin registers."""


class RegistryError(MmgenreError):
    """Plugins that cannot be combined (e.g. two register the same name)."""


class DatasetError(MmgenreError):
    """A dataset folder that cannot be used at all."""


class ComponentUnavailableError(MmgenreError):
    """A component whose software, weights or service cannot be reached."""


class RunError(MmgenreError):
    """A run folder that is missing or incomplete."""


class NotExportableError(MmgenreError):
    """A component that cannot be exported (to ONNX): it says which one and why."""
