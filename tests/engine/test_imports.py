"""The engine's import rules: no Django, Celery or stylerecs; no torch where not needed."""

from __future__ import annotations

import subprocess
import sys

ENGINE_MODULES = [
    "workers.engine",
    "workers.engine.images",
    "workers.engine.isolation",
    "workers.engine.tensors",
    "workers.engine.device",
    "workers.engine.colorspace",
    "workers.engine.pipeline",
    "workers.engine.stylizers",
    "workers.engine.stylizers.base",
    "workers.engine.stylizers.classic",
    "workers.engine.stylizers.adain",
    "workers.engine.vgg",
    "workers.engine.checkpoints",
    "workers.engine.stylizers.gatys",
    "workers.engine.embeddings",
    "workers.engine.training",
    "workers.engine.scoring",
    "workers.engine.__main__",
]


def python(repo_root, code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_engine_never_imports_django_celery_or_stylerecs_nor_initialises_cuda(repo_root):
    code = (
        "import importlib, sys, torch\n"
        f"for m in {ENGINE_MODULES!r}: importlib.import_module(m)\n"
        "from workers.engine.device import pick_device; pick_device()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'celery', 'kombu', 'stylerecs', 'shop'))\n"
        "print(bad, torch.cuda.is_initialized())"
    )
    assert python(repo_root, code) == "[] False"


def test_package_and_image_decoding_import_without_torch(repo_root):
    code = (
        "import sys, workers.engine, workers.engine.images\n"
        "workers.engine.ImageError, workers.engine.ImageLimits, workers.engine.__version__\n"
        "print('torch' in sys.modules)"
    )
    assert python(repo_root, code) == "False"


def test_lazy_names_resolve():
    import workers.engine as engine

    for name in (
        "stylize_many",
        "StylizeOutcome",
        "ImageError",
        "ImageLimits",
        "get_stylizer",
        "available",
    ):
        assert getattr(engine, name) is not None
    assert engine.__version__ == "0.1.0"
