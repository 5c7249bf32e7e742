"""mmgenre.testing itself: good components pass, and each broken contract fails its check with a message that
names the contract, what was found and how to meet it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REGISTRY
from mmgenre_datasets.sources import FolderSource
from pydantic import ConfigDict, Field
from torch import nn

from mmgenre.components import (
    KINDS,
    Encoded,
    EncoderInfo,
    FusionContext,
    FusionHead,
    ImageEncoder,
    Loss,
    OcrEngine,
    OcrResult,
    Params,
    Word,
)
from mmgenre.data.dataset import load_dataset
from mmgenre.testing import CheckSkipped, ConformanceError, check_component, checks_for
from mmgenre.testing.contract import CHECKS
from mmgenre.testing.probe_encoder import ProbeTextEncoder


class HeadParams(Params):
    hidden: int = Field(8, ge=1)
    batch_size: int = Field(32, ge=1)


class MaskedMeanHead(FusionHead):
    """Masked mean of each modality's tokens, concatenated, then a linear layer."""

    name = "masked-mean"
    Params = HeadParams
    cache_exempt = frozenset({"batch_size"})

    def uses_tokens(self) -> bool:
        return True

    def build(self, context: FusionContext):
        dims = context.dims
        return MaskedMean(dims.image_tokens or dims.image, dims.text_tokens or dims.text, len(context.labels))


class MaskedMean(nn.Module):
    def __init__(self, image: int, text: int, classes: int, respect_mask: bool = True) -> None:
        super().__init__()
        self.linear, self.respect_mask = nn.Linear(image + text, classes), respect_mask

    def pool(self, batch, name):
        if f"{name}_tokens" not in batch:
            return batch[name]
        tokens, mask = batch[f"{name}_tokens"], batch[f"{name}_mask"].float()
        if not self.respect_mask:
            mask = torch.ones_like(mask)
        return (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)

    def forward(self, batch):
        return self.linear(torch.cat([self.pool(batch, "image"), self.pool(batch, "text")], -1))


class MeanOverPadding(MaskedMeanHead):
    """Averages padded positions too."""

    def build(self, context: FusionContext):
        module = super().build(context)
        module.respect_mask = False
        return module


class UnusedLayer(MaskedMeanHead):
    """Has a layer forward never uses."""

    def build(self, context: FusionContext):
        module = super().build(context)
        module.spare = nn.Linear(3, 3)
        return module


class BatchNormalised(MaskedMeanHead):
    """Normalises logits over the batch."""

    def build(self, context: FusionContext):
        module = super().build(context)
        return nn.Sequential(Forward(module), Standardise())


class Forward(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, batch):
        return self.module(batch)


class Standardise(nn.Module):
    def forward(self, logits):
        return (logits - logits.mean(0)) / (logits.std(0) + 1e-6) if len(logits) > 1 else logits


class LooseParams(HeadParams):
    model_config = ConfigDict(extra="allow")


class AcceptsTypos(MaskedMeanHead):
    """Params that accept any key."""

    Params = LooseParams


class ForgetsAParam(MaskedMeanHead):
    """Leaves `hidden` out of its identity and puts the exempt `batch_size` in."""

    def identity(self) -> dict:
        identity = super().identity()
        identity["params"] = {"batch_size": self.params.batch_size}
        return identity


class SummedLoss(Loss):
    """BCE on logits, mean."""

    name = "summed"

    def build(self, positive_rate):
        return nn.BCEWithLogitsLoss()


class PerGenreLoss(SummedLoss):
    """Returns one value per genre."""

    def build(self, positive_rate):
        return nn.BCEWithLogitsLoss(reduction="none")


class NaiveLogLoss(SummedLoss):
    """log(sigmoid(x)): overflows for confident logits."""

    def build(self, positive_rate):
        def loss(logits, targets):
            p = torch.sigmoid(logits)
            return -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()

        return loss


class InkReader(OcrEngine):
    """Reads the sample poster's title wherever there is ink (a stand-in engine for testing the kit)."""

    name = "ink"

    def read(self, image) -> OcrResult:
        if np.asarray(image.convert("L")).std() < 2:
            return OcrResult("")
        return OcrResult("THE GREAT ESCAPE", [Word("THE GREAT ESCAPE", (10, 120, 230, 200), 0.9)])


class FailsOnBlank(InkReader):
    """Raises when it finds no text."""

    def read(self, image) -> OcrResult:
        result = super().read(image)
        if not result.text:
            raise ValueError("no text found")
        return result


class NumpyBoxes(InkReader):
    """Reports numpy box coordinates."""

    def read(self, image) -> OcrResult:
        result = super().read(image)
        return OcrResult(
            result.text, [Word(w.text, tuple(np.int64(v) for v in w.box), w.confidence) for w in result.words]
        )


class KeepsALock(InkReader):
    """Keeps an unpicklable client after setup."""

    def setup(self) -> None:
        import threading

        self._client = threading.Lock()


class GridImage(ImageEncoder):
    """Mean colour of 4 x 4 cells of the centre crop."""

    name = "grid"

    def load(self, device: str) -> None:
        self.device = device

    def info(self) -> EncoderInfo:
        return EncoderInfo(48, None, {"resolution": 32, "mean": (0.5,) * 3, "std": (0.5,) * 3, "crop_pct": 1.0})

    def preprocess(self, image):
        from torchvision import transforms as T

        return T.Compose([T.Resize(32), T.CenterCrop(32), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)])(image)

    def encode(self, pixels) -> Encoded:
        return Encoded(pooled=nn.functional.adaptive_avg_pool2d(pixels, 4).flatten(1))


class UndeclaredPreprocessing(GridImage):
    """Declares no resolution."""

    def info(self) -> EncoderInfo:
        return EncoderInfo(48, None, {"size": 32})


class WrongWidth(GridImage):
    """Says 64-d, gives 48-d."""

    def info(self) -> EncoderInfo:
        return EncoderInfo(64, None, GridImage.info(self).preprocessing)


class Noisy(ProbeTextEncoder):
    """Adds noise (dropout left on)."""

    def encode(self, texts):
        encoded = super().encode(texts)
        return Encoded(pooled=encoded.pooled + 0.01 * torch.randn_like(encoded.pooled))


class BatchDependent(ProbeTextEncoder):
    """Centres embeddings on the batch mean."""

    def encode(self, texts):
        encoded = super().encode(texts)
        return Encoded(pooled=encoded.pooled - encoded.pooled.mean(0) + 1)


class NoReference(FolderSource):
    """Forgets to set the dataset's reference."""

    name = "no-reference"

    def load(self, labels):
        return load_dataset(self.params.path, labels)


class TracebackOnMissingPath(FolderSource):
    """Opens its path without checking it."""

    name = "traceback"

    def load(self, labels):
        open(self.params.path + "/labels.csv").close()
        return super().load(labels)


class NeedsAModule(MaskedMeanHead):
    """Needs a package that is not installed."""

    requires_modules = ("no_such_module_for_mmgenre",)
    install_hint = "pip install no-such-module"


@pytest.mark.parametrize(
    "component", [MaskedMeanHead, SummedLoss, InkReader, GridImage, ProbeTextEncoder], ids=lambda c: c.name
)
def test_good_components_pass_every_check_of_their_kind(component):
    outcomes = check_component(component)
    assert set(outcomes.values()) == {"passed"}
    assert {"params_reject_unknown_keys", "fingerprint_follows_output_params", "pickles_to_another_process"} <= set(
        outcomes
    )


BROKEN = [
    (MeanOverPadding, "padding_changes_nothing", "noise in padded positions moved the logits"),
    (UnusedLayer, "gradients_reach_every_parameter", "no gradient reaches spare.weight"),
    (BatchNormalised, "batch_size_independent", "poster 0 alone: logits differ"),
    (AcceptsTypos, "params_reject_unknown_keys", "Params accepted the unknown key"),
    (ForgetsAParam, "fingerprint_follows_output_params", "changing the param 'hidden' to 9 left the fingerprint"),
    (ForgetsAParam, "fingerprint_follows_output_params", "cache-exempt param 'batch_size' to 33 changed"),
    (PerGenreLoss, "finite_scalar_with_a_gradient", "not a 0-d tensor"),
    (NaiveLogLoss, "rewards_right_answers", "at |logit| = 50"),
    (FailsOnBlank, "reads_nothing_on_a_blank_image", "raised ValueError: no text found"),
    (NumpyBoxes, "results_survive_the_cache", "to_json() is not JSON"),
    (KeepsALock, "reads_in_a_worker_process", "the engine does not pickle: TypeError: cannot pickle '_thread.lock'"),
    (UndeclaredPreprocessing, "preprocessing_is_declared", "lacks resolution, mean, std"),
    (WrongWidth, "pooled_vectors_match_info", "pooled has shape (3, 48) for 3 inputs, info().dim = 64"),
    (Noisy, "deterministic_under_inference_mode", "a second encode of the same inputs gave other pooled vectors"),
    (BatchDependent, "batch_size_independent", "alone vs in a batch of 3"),
    (NoReference, "reference_reopens_the_same_posters", "reference = None"),
    (TracebackOnMissingPath, "missing_location_is_a_dataset_error", "load() raised FileNotFoundError"),
]


@pytest.mark.parametrize(("component", "check", "found"), BROKEN, ids=lambda v: getattr(v, "__name__", str(v))[:40])
def test_a_broken_contract_fails_its_check_saying_what_and_how(component, check, found):
    runs = dict(checks_for(component))
    with pytest.raises(ConformanceError) as error:
        runs[check]()
    message = str(error.value)
    assert f"fails the check '{check}'" in message and component.__name__ in message
    assert "Contract:" in message and "How to meet it:" in message
    assert found in message


@pytest.mark.slow  # more than 5 s here (kept out of `-m unit`)
def test_check_component_reports_every_broken_contract_at_once():
    with pytest.raises(ConformanceError) as error:
        check_component(ForgetsAParam)
    assert str(error.value).count("fails the check") == 1  # one check, both problems in it
    with pytest.raises(ConformanceError) as error:
        check_component(KeepsALock)
    assert "reads_in_a_worker_process" in str(error.value) and "reads_a_poster" not in str(error.value)


@pytest.mark.slow  # more than 5 s here (kept out of `-m unit`)
def test_an_unavailable_component_is_skipped_with_its_reason_and_fails_when_strict():
    outcomes = check_component(NeedsAModule)
    assert outcomes["params_reject_unknown_keys"] == "passed"  # checks that need nothing installed still run
    assert outcomes["logits_have_one_column_per_genre"].startswith("skipped: fusion head 'masked-mean'")
    assert "missing no_such_module_for_mmgenre (pip install no-such-module)" in outcomes["padding_changes_nothing"]
    with pytest.raises(CheckSkipped):
        dict(checks_for(NeedsAModule))["padding_changes_nothing"]()
    with pytest.raises(ConformanceError, match="could not run"):
        check_component(NeedsAModule, strict=True)


def test_every_kind_has_checks_of_its_own_and_checks_only_apply_to_their_kinds():
    for key in KINDS:
        assert any(key in check.kinds for check in CHECKS), f"no conformance checks for the kind {key}"
    names = [name for name, _ in checks_for(SummedLoss)]
    assert "finite_scalar_with_a_gradient" in names and "padding_changes_nothing" not in names
    assert "padding_changes_nothing" not in [name for name, _ in checks_for(REGISTRY.get("fusion", "concat"))]


def test_a_component_without_working_params_says_how_to_give_them():
    class NeedsPath(NoReference):
        """No conformance params."""

        @classmethod
        def conformance_params(cls, folder):
            return None

    with pytest.raises(ConformanceError, match="conformance_params") as error:
        dict(checks_for(NeedsPath))["loads_posters"]()
    assert "path: Field required" in str(error.value)


@pytest.mark.slow  # more than 5 s here (kept out of `-m unit`)
def test_the_pytest_plugin_makes_one_test_per_check_and_component(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nmmgenre_plugins = ["losses"]\n')
    (tmp_path / "test_losses.py").write_text("def test_conformance(mmgenre_check):\n    mmgenre_check()\n")
    (tmp_path / "test_unknown.py").write_text(
        "import pytest\n\n\n@pytest.mark.mmgenre_plugins('no-such-plugin')\n"
        "def test_unknown(mmgenre_check):\n    mmgenre_check()\n"
    )
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"]
    result = subprocess.run([*run, "test_losses.py"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "21 passed" in result.stdout  # 3 losses x (5 common + 2 loss checks)
    assert "PASSED test_losses.py::test_conformance[loss:asl:rewards_right_answers]" in result.stdout
    option = [*run, "--mmgenre-plugin", "datasets", "test_losses.py"]
    only = subprocess.run(option, cwd=tmp_path, capture_output=True, text=True)
    assert "16 passed" in only.stdout and "loss:" not in only.stdout  # the option overrides the ini setting
    unknown = subprocess.run([*run, "test_unknown.py"], cwd=tmp_path, capture_output=True, text=True)
    assert unknown.returncode != 0
    assert "no mmgenre plugin 'no-such-plugin' (the mmgenre_plugins marker); installed: " in unknown.stdout
