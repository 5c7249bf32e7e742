"""`mmgenre serve`: a trained run behind an HTTP API and a web page (FastAPI + uvicorn, the `serve` extra).

Nothing here is imported by the core CLI until `mmgenre serve` runs; `require_serve_extra` says what to install.
"""

from __future__ import annotations

import importlib

from mmgenre.errors import MmgenreError

SERVE_MODULES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "python_multipart": "python-multipart"}


def require_serve_extra() -> None:
    """Raise a user error naming what is missing when the optional `serve` extra isn't installed."""
    missing = []
    for module, package in SERVE_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise MmgenreError(
            f"`mmgenre serve` needs the serve extra ({', '.join(missing)} missing): pip install 'mmgenre[serve]'"
        )
