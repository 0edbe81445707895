"""The engine's import rules: no Django, Celery or stylerecs; no torch where not needed."""

from __future__ import annotations

import subprocess
import sys

ENGINE_MODULES = [
    "stylerecs.engine",
    "stylerecs.engine.images",
    "stylerecs.engine.renditions",
    "stylerecs.engine.isolation",
    "stylerecs.engine.tensors",
    "stylerecs.engine.device",
    "stylerecs.engine.colorspace",
    "stylerecs.engine.pipeline",
    "stylerecs.engine.stylizers",
    "stylerecs.engine.stylizers.base",
    "stylerecs.engine.stylizers.classic",
    "stylerecs.engine.stylizers.adain",
    "stylerecs.engine.vgg",
    "stylerecs.engine.checkpoints",
    "stylerecs.engine.stylizers.gatys",
    "stylerecs.engine.stylizers.texture",
    "stylerecs.engine.masks",
    "stylerecs.engine.quality",
    "stylerecs.engine.embeddings",
    "stylerecs.engine.training",
    "stylerecs.engine.scoring",
    "stylerecs.engine.taste",
    "stylerecs.engine.taste_params",
    "stylerecs.engine.taste_rank",
    "stylerecs.engine.taste_side",
    "stylerecs.engine.taste_log",
    "stylerecs.engine.taste_tuning",
    "stylerecs.engine.__main__",
]


# The engine ships inside the stylerecs package: the package's own (empty) __init__ is
# allowed, any other part of stylerecs (Django code) is not.
FORBIDDEN = (
    "m.split('.')[0] in ('django', 'celery', 'kombu', 'shop') or "
    "(m.startswith('stylerecs.') and not m.startswith('stylerecs.engine'))"
)


def python(repo_root, code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_engine_imports_no_django_celery_or_other_stylerecs_nor_initialises_cuda(repo_root):
    code = (
        "import importlib, sys, torch\n"
        f"for m in {ENGINE_MODULES!r}: importlib.import_module(m)\n"
        "from stylerecs.engine.device import pick_device; pick_device()\n"
        f"bad = sorted(m for m in sys.modules if {FORBIDDEN})\n"
        "print(bad, torch.cuda.is_initialized())"
    )
    assert python(repo_root, code) == "[] False"


def test_package_and_image_decoding_import_without_torch(repo_root):
    code = (
        # Renditions are made wherever Pillow is (the web install has no torch).
        "import sys, stylerecs.engine, stylerecs.engine.images, stylerecs.engine.renditions\n"
        "stylerecs.engine.ImageError, stylerecs.engine.ImageLimits, stylerecs.engine.__version__\n"
        "print('torch' in sys.modules)"
    )
    assert python(repo_root, code) == "False"


def test_lazy_names_resolve():
    import stylerecs.engine as engine

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
