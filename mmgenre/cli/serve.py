"""`mmgenre serve`."""

from __future__ import annotations

import contextlib

import click

from mmgenre.cli.options import cluster_executor, executor_options, open_executor, read_store_option
from mmgenre.cli.runtime import load_predictor, runtime_option


@click.command("serve")
@click.argument("run", required=False, metavar="[RUN|MODEL]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every one).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--device", default="cpu", show_default=True, help="Where the encoders and head run: cpu, cuda, cuda:1, auto."
)
@read_store_option
@executor_options
@runtime_option
@click.option(
    "--max-upload-mb", default=20.0, show_default=True, type=click.FloatRange(min=0.01), help="Largest poster file."
)
@click.option("--max-files", default=32, show_default=True, type=click.IntRange(min=1), help="Posters per request.")
@click.option(
    "--batch-window-ms",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Wait this long for more requests to batch with the first; 0 answers each at once (faster on CPUs, where "
    "OCR dominates: see benchmarks/README.md); try 10 on a GPU.",
)
@click.option("--max-batch", default=64, show_default=True, type=click.IntRange(min=1), help="Posters per batch.")
@click.option(
    "--ocr-workers", type=click.IntRange(min=1), help="OCR worker processes for a batch [default: all cores]."
)
@click.option(
    "--read-timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a request body may take to arrive; a slower client gets 408 and its connection closed.",
)
def serve_command(
    run: str | None,
    host: str,
    port: int,
    device: str,
    cache_dir: str | None,
    executor: str,
    executor_opts: tuple[str, ...],
    runtime: str,
    max_upload_mb: float,
    max_files: int,
    batch_window_ms: float,
    max_batch: int,
    ocr_workers: int | None,
    read_timeout: float,
) -> None:
    """Serve a trained RUN or installed MODEL (default: the bundled offline-best) over HTTP: POST /v1/predict,
    GET /v1/model, /healthz, /docs, and a web page at /."""
    from mmgenre.serve import require_serve_extra

    require_serve_extra()
    from mmgenre.features.ocr_stage import default_workers
    from mmgenre.features.store_url import open_store
    from mmgenre.serve.app import create_app
    from mmgenre.serve.limits import MB, ServeLimits
    from mmgenre.serve.warmup import warm_up

    limits = ServeLimits(round(max_upload_mb * MB), max_files, batch_window_ms, max_batch, read_timeout)
    check_port(host, port)  # before the model loads: a port in use is said at once
    from mmgenre.registry import Registry
    from mmgenre.training.installed_models import find_model

    registry = Registry.from_entry_points()
    model = find_model(run, registry)
    runner = open_executor(executor, executor_opts, registry)
    cache = open_store(cache_dir, registry, read_only=True) if cache_dir else None
    workers = ocr_workers or default_workers()
    with (
        runner,
        load_predictor(
            runtime,
            str(model.path),
            device=device,
            registry=registry,
            ocr_workers=workers,
            executor=cluster_executor(runner),
        ) as predictor,
    ):
        seconds = warm_up(predictor)
        app = create_app(predictor, limits, cache=cache)
        click.echo(
            f"serving {model.describe()} on http://{host}:{port} (device {predictor.device}, ready in {seconds:.1f} s)",
            err=True,
        )
        run_until_stopped(app, host, port)
    if cache is not None:
        cache.close()


def check_port(host: str, port: int) -> None:
    """Raise unless `host:port` can be listened on (as uvicorn will: SO_REUSEADDR)."""
    import errno
    import socket

    from mmgenre.errors import MmgenreError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise MmgenreError(f"--host {host} is not an address of this machine: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise MmgenreError(f"port {port} on {host} is already in use: choose another --port") from None
            raise MmgenreError(f"cannot listen on {host}:{port}: {error.strerror}") from None


class Stopped(Exception):
    """SIGTERM, turned into an exception so that the command ends as cleanly as on Ctrl-C."""


def stop(signum: int, frame: object) -> None:
    raise Stopped


def run_until_stopped(app, host: str, port: int) -> None:
    """uvicorn until Ctrl-C or SIGTERM; either way the app shuts down (the batch under way finishes) and the
    command exits 0 after the predictor is closed."""
    import signal

    import uvicorn

    signal.signal(signal.SIGTERM, stop)  # uvicorn handles it while serving, then raises it again: here
    with contextlib.suppress(KeyboardInterrupt, Stopped):
        uvicorn.run(app, host=host, port=port, log_level="warning")


COMMANDS = [serve_command]
