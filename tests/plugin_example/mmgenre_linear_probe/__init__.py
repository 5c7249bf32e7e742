"""A third-party mmgenre plugin: registers the `linear-probe` fusion head."""

from pydantic import Field

from mmgenre.api import FusionContext, FusionHead, Params, hookimpl


class LinearProbeParams(Params):
    normalise: bool = Field(True, description="unit-normalise each modality before the linear layer")


class LinearProbe(FusionHead):
    """One linear layer on the concatenated (normalised) image and text vectors."""

    name = "linear-probe"
    Params = LinearProbeParams

    def build(self, context: FusionContext):
        from mmgenre_linear_probe.model import LinearProbeModel  # torch is imported only when training

        dims = context.dims
        return LinearProbeModel(dims.image + dims.text, len(context.labels), self.params.normalise)


@hookimpl
def register_fusion_heads(register):
    register(LinearProbe)
