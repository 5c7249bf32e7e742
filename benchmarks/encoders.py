"""Encoder benchmark: posters/s end to end (file -> decode -> preprocess -> embedding) and for the bare
forward pass on the same batch, for each encoder, on the CPU or a GPU.

    python benchmarks/encoders.py --posters 300                       # CPU, offline encoders + CLIP
    python benchmarks/encoders.py --posters 300 --device cuda --repeat 40

CLIP runs with random weights (none can be downloaded here): speed does not depend on the weights.
End to end uses the pipeline's own batching (data-loader workers; on CUDA, nvJPEG or nvImageCodec decoding
(`--modes nvjpeg,nvimgcodec,pil`) and bf16).
Writes benchmarks/results/encoders-*.json and prints a table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
from common import DEFAULT_POSTERS, print_table, write_result  # noqa: E402

from mmgenre import DEFAULT_GENRES  # noqa: E402
from mmgenre.data.dataset import load_dataset  # noqa: E402
from mmgenre.data.images import load_image  # noqa: E402
from mmgenre.features.gpu_decode import NVIMGCODEC_HINT, nvimgcodec_available  # noqa: E402
from mmgenre.features.image_batches import image_batches  # noqa: E402
from mmgenre.features.ocr_stage import default_workers  # noqa: E402
from mmgenre.features.sources import ImageOptions, Source  # noqa: E402
from mmgenre.registry import Registry  # noqa: E402

# decoding mode -> (share of JPEGs decoded on the GPU, GPU decoder)
MODES = {
    "nvjpeg": (1.0, "nvjpeg"),
    "nvimgcodec": (1.0, "nvimgcodec"),
    "hybrid": (0.8, "nvjpeg"),
    "pil": (0.0, "nvjpeg"),
}


def random_clip_checkpoints(folder: Path) -> dict[str, dict]:
    """ViT-B/32 CLIP with random weights, saved locally for open_clip and transformers."""
    checkpoints = {}
    if importlib.util.find_spec("open_clip"):
        import open_clip
        from safetensors.torch import save_file

        target = folder / "open_clip"
        target.mkdir()
        model = open_clip.create_model("ViT-B-32", pretrained=None)
        save_file(
            {k: v.contiguous() for k, v in model.state_dict().items()}, str(target / "open_clip_model.safetensors")
        )
        config = open_clip.get_model_config("ViT-B-32")
        (target / "open_clip_config.json").write_text(json.dumps({"model_cfg": config}))
        checkpoints["open-clip ViT-B/32"] = {"name": "open-clip", "weights": str(target)}
    from transformers import CLIPConfig, CLIPModel

    target = folder / "hf_clip"
    CLIPModel(CLIPConfig()).save_pretrained(target)  # the default config is ViT-B/32
    checkpoints["hf-clip ViT-B/32"] = {"name": "hf-clip", "weights": str(target)}
    return checkpoints


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def end_to_end(
    encoder,
    sources: list[Source],
    device: str,
    batch_size: int,
    workers: int,
    gpu_decode: bool,
    gpu_share: float,
    bf16: bool,
    gpu_decoder: str = "nvjpeg",
) -> float:
    """Posters per second through the pipeline's decode + preprocess + encode (no cache)."""
    options = ImageOptions()

    def encode_all(subset: list) -> int:
        batches = image_batches(
            encoder,
            subset,
            options,
            device=device,
            batch_size=batch_size,
            workers=workers,
            gpu_decode=gpu_decode,
            gpu_share=gpu_share,
            bf16=bf16,
            gpu_decoder=gpu_decoder,
        )
        done = sum(len(batch.indices) for batch in batches)
        synchronise(device)
        return done

    encode_all(sources[: batch_size * 2])  # warm-up: workers, kernels, allocator
    started = time.perf_counter()
    return encode_all(sources) / (time.perf_counter() - started)


def bare_forward(encoder, images, device: str, batch_size: int, total: int, bf16: bool) -> float:
    """Posters per second of `encode` alone on a preprocessed batch already on the device."""
    from contextlib import nullcontext

    pixels = torch.stack([encoder.preprocess(images[i % len(images)]) for i in range(batch_size)]).to(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else nullcontext()
    with torch.inference_mode(), autocast:
        encoder.encode(pixels)
        synchronise(device)
        steps = max(1, total // batch_size)
        started = time.perf_counter()
        for _ in range(steps):
            encoder.encode(pixels)
        synchronise(device)
    return steps * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posters", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=1, help="pass over the posters this many times")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 32 on CPU, 512 on CUDA")
    parser.add_argument("--workers", type=int, help="decoding workers [default: the pipeline's choice]")
    parser.add_argument("--data", type=Path, default=DEFAULT_POSTERS)
    parser.add_argument("--only", help="comma-separated encoder labels to run")
    parser.add_argument("--modes", default="nvjpeg,hybrid,pil", help="CUDA decoding modes: " + ",".join(MODES))
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    batch_size = args.batch_size or (512 if cuda else 32)
    args.workers = args.workers if args.workers is not None else (default_workers() if cuda else 0)
    posters = load_dataset(args.data, list(DEFAULT_GENRES)).posters
    posters = posters[: args.posters]
    sources = [Source(f"{i}", path=p.path) for i, p in enumerate(posters)] * args.repeat
    images = [load_image(p.path) for p in posters[:batch_size]]
    registry = Registry.from_entry_points()
    rows, results = [], []
    with tempfile.TemporaryDirectory() as folder:
        encoders = {f"efficientnet-{v}": {"name": "efficientnet-lite", "variant": v} for v in ("lite0", "lite2")}
        encoders.update(random_clip_checkpoints(Path(folder)))
        only = args.only.split(",") if args.only else list(encoders)
        if unknown := sorted(set(only) - set(encoders)):
            parser.error(f"--only: unknown encoder label(s) {', '.join(unknown)}; choose from {', '.join(encoders)}")
        for label, params in encoders.items():
            if label not in only:
                continue
            name = params.pop("name")
            encoder = registry.create("image_encoder", name, params)
            try:
                encoder.load(args.device)
            except Exception as error:  # e.g. weights package missing on this machine
                print(f"skipping {label}: {error}", file=sys.stderr)
                continue
            modes = [MODES[m] for m in args.modes.split(",")] if cuda else [(0.0, "nvjpeg")]
            bare = bare_forward(encoder, images, args.device, batch_size, len(sources), cuda)
            for gpu_share, decoder in modes:
                gpu_decode, bf16 = gpu_share > 0, cuda
                if decoder == "nvimgcodec" and not nvimgcodec_available():
                    print(f"skipping nvimgcodec: not installed ({NVIMGCODEC_HINT})", file=sys.stderr)
                    continue
                e2e = end_to_end(
                    encoder, sources, args.device, batch_size, args.workers, gpu_decode, gpu_share, bf16, decoder
                )
                decode = (
                    (f"{decoder} {gpu_share:.0%} + PIL" if 0 < gpu_share < 1 else f"{decoder} (GPU)")
                    if gpu_decode
                    else f"PIL ({args.workers} workers)"
                )
                results.append(
                    {
                        "encoder": label,
                        "device": args.device,
                        "decode": decode,
                        "bf16": bf16,
                        "batch_size": batch_size,
                        "posters": len(sources),
                        "end_to_end_per_second": e2e,
                        "bare_forward_per_second": bare,
                        "ratio": e2e / bare,
                    }
                )
                rows.append(
                    {
                        "encoder": label,
                        "decode": decode,
                        "precision": "bf16" if bf16 else "fp32",
                        "end-to-end/s": f"{e2e:,.0f}",
                        "forward/s": f"{bare:,.0f}",
                        "ratio": f"{e2e / bare:.2f}",
                    }
                )
    command = " ".join(["python benchmarks/encoders.py", *sys.argv[1:]])
    path = write_result(f"encoders-{'gpu' if cuda else 'cpu'}", {"results": results, "command": command})
    print_table(rows)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
