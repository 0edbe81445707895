"""Check and install the neural stylizers' weight files (local files only).

manage.py stylerecs_weights check
manage.py stylerecs_weights install --from /path/to/downloaded/files
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from stylerecs.conf import stylerecs_settings
from stylerecs.weights import METHOD_WEIGHTS, weights_dir, weights_path

# The engine's checkpoint format of each STYLERECS["WEIGHTS"] key.
FORMATS = {
    "adain_encoder": "adain-vgg",
    "adain_decoder": "adain-decoder",
    "vgg19": "torchvision-vgg19",
}


def _checkpoints():
    engine = stylerecs_settings.ENGINE
    return importlib.import_module(f"{engine}.checkpoints")


class Command(BaseCommand):
    help = "Report which neural weight files are installed and valid, or install them."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("check", help="Validate the installed files and say what each method needs.")
        install = sub.add_parser("install", help="Validate files from a folder and copy them in.")
        install.add_argument("--from", dest="source", required=True, metavar="DIR")
        install.add_argument("--force", action="store_true", help="Replace valid installed files.")

    def handle(self, *args, action, **options):
        if action == "install":
            self._install(Path(options["source"]), force=options["force"])
        ok = self._check()
        if action == "check" and not ok:
            # Not an error: classic needs no weights and always works.
            self.stdout.write("The classic method needs no weights and works without them.")

    def _validate(self, key: str, path: Path):
        return _checkpoints().validate(path, format=FORMATS[key])

    def _check(self) -> bool:
        self.stdout.write(f"Weights folder: {weights_dir()}")
        valid: dict[str, bool] = {}
        for key in FORMATS:
            path = weights_path(key)
            if not path.is_file():
                valid[key] = False
                self.stdout.write(f"  {key:14} missing    {path}")
                continue
            report = self._validate(key, path)
            valid[key] = report.ok
            state = self.style.SUCCESS("ok") if report.ok else self.style.ERROR("INVALID")
            self.stdout.write(
                f"  {key:14} {state:10} {path} ({report.size} bytes, sha256 {report.sha256[:12]}…)"
            )
            for problem in report.problems:
                self.stdout.write(f"      {problem}")
        for method, needs in METHOD_WEIGHTS.items():
            ready = all(valid.get(key) for key in needs.values())
            label = self.style.SUCCESS("available") if ready else self.style.WARNING("unavailable")
            detail = ", ".join(needs.values()) or "no weights"
            self.stdout.write(f"  method {method:8} {label} (needs {detail})")
        return all(valid.values())

    def _install(self, source: Path, *, force: bool) -> None:
        if not source.is_dir():
            raise CommandError(f"{source} is not a folder.")
        target_dir = weights_dir()
        target_dir.mkdir(parents=True, exist_ok=True)
        installed = 0
        for key in FORMATS:
            name = Path(stylerecs_settings.WEIGHTS[key]).name
            candidate = source / name
            if not candidate.is_file():
                self.stdout.write(f"  {key:14} not in {source} (looked for {name})")
                continue
            report = self._validate(key, candidate)
            if not report.ok:
                raise CommandError(
                    f"{candidate} is not a valid {FORMATS[key]} checkpoint: "
                    + "; ".join(report.problems)
                )
            target = weights_path(key)
            if target.is_file() and not force and self._validate(key, target).ok:
                self.stdout.write(f"  {key:14} already installed (use --force to replace)")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            # Copy to a temporary name, then rename: a worker never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            os.close(fd)
            shutil.copyfile(candidate, tmp)
            os.replace(tmp, target)
            installed += 1
            self.stdout.write(self.style.SUCCESS(f"  {key:14} installed -> {target}"))
        if not installed:
            self.stdout.write("Nothing installed.")
