"""The trained models that ship with mmgenre, registered as a third-party package would register its own."""

from mmgenre.api import PackagedModel, hookimpl


class OfflineBest(PackagedModel):
    """Late fusion + class-weighted BCE on RapidOCR, EfficientNet-Lite2 and MiniLM features (13 IMDb genres)."""

    name = "offline-best"
    package = "mmgenre_models"
    folder = "offline_best"


@hookimpl
def register_models(register):
    register(OfflineBest)
