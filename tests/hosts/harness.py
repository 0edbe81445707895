"""Install the stylerecs wheel into a host project that is not the demo, and run it.

Reusable by every host under tests/hosts/ (a plain Django shop, a django-oscar shop):

- :func:`build_wheel` builds the wheel from this checkout (no download: the installed
  setuptools builds it) and :func:`wheel_top_level` lists what it ships.
- :func:`make_venv` makes a fresh virtualenv with the wheel installed. It reuses this
  test venv's packages (torch included) through a ``.pth`` file naming our
  site-packages: ``--system-site-packages`` would not see a venv's packages, and the
  ``.pth`` files *inside* that folder are not processed, so the editable stylerecs of the
  checkout does not leak in (:meth:`HostVenv.assert_imports_wheel` proves it).
- :func:`readme_host_files` and :func:`readme_commands` read README's install section:
  the hosts follow it literally.
- :class:`HostProject` runs ``manage.py`` commands, a real Celery worker of the host's
  own app and a server on a free port, against its own PostgreSQL database (created and
  dropped here) and the test Redis behind its own key prefix.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
ARTIFACTS = ROOT / "test-artifacts" / "hosts"
INSTALL_SECTION = "## Installing stylerecs in your shop"


# --- the wheel ---------------------------------------------------------------------------
# Not copied into the build: what is not source (and would make a stale build/ folder
# or a venv part of the wheel's input).
NOT_SOURCE = (
    ".git",
    ".venv",
    "var",
    "build",
    "dist",
    "test-artifacts",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
)


def build_wheel(out_dir: Path) -> Path:
    """Build the stylerecs wheel of this checkout into ``out_dir`` and return its path.

    From a clean copy of the source: setuptools builds in the source tree, and a build/
    folder left there from another run could slip stale modules into the wheel.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    source = out_dir / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",  # the installed setuptools: nothing is downloaded
            "--no-index",
            "--no-cache-dir",
            "--wheel-dir",
            str(out_dir),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shutil.rmtree(source)
    wheels = sorted(out_dir.glob("stylerecs-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def wheel_top_level(wheel: Path) -> set[str]:
    """The top-level names a wheel installs (packages and modules, not its dist-info)."""
    with zipfile.ZipFile(wheel) as archive:
        names = {name.split("/", 1)[0] for name in archive.namelist()}
    return {name.removesuffix(".py") for name in names if not name.endswith(".dist-info")}


def wheel_metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return archive.read(name).decode()


# --- a venv with the wheel ----------------------------------------------------------------
@dataclass
class HostVenv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def run(self, code: str, *, cwd: Path | None = None, env=None, timeout=120):
        return subprocess.run(
            [str(self.python), "-c", code],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def assert_imports_wheel(self) -> Path:
        """``import stylerecs`` in this venv loads the installed wheel, not the checkout."""
        out = self.run("import stylerecs; print(stylerecs.__file__)", cwd=self.path)
        assert out.returncode == 0, out.stderr
        location = Path(out.stdout.strip())
        assert location.is_relative_to(self.path), f"stylerecs imported from {location}"
        assert not location.is_relative_to(ROOT / "stylerecs")
        return location


def make_venv(path: Path, wheel: Path) -> HostVenv:
    """A new venv at ``path`` with ``wheel`` installed and this venv's packages visible."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120
    )
    venv = HostVenv(path)
    site = venv.run("import sysconfig; print(sysconfig.get_paths()['purelib'])")
    assert site.returncode == 0, site.stderr
    ours = sysconfig.get_paths()["purelib"]
    # Appended after the new venv's own site-packages: the wheel's stylerecs wins.
    (Path(site.stdout.strip()) / "reuse-test-venv.pth").write_text(ours + "\n")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv.python),
            "install",
            "--no-index",  # every dependency must already be there: nothing is downloaded
            "--no-deps",
            "--no-compile",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    venv.assert_imports_wheel()
    return venv


# --- README's install section -------------------------------------------------------------
def install_section(readme: Path = README) -> str:
    text = readme.read_text()
    start = text.index(INSTALL_SECTION)
    end = text.find("\n## ", start + len(INSTALL_SECTION))
    return text[start : end if end != -1 else None]


@dataclass
class HostFile:
    path: str
    code: str
    append: bool


FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)


def _block_after(text: str, position: int) -> str:
    match = FENCE.search(text, position)
    assert match, f"no code block after position {position} of README's install section"
    return match.group(1)


def readme_host_files(readme: Path = README) -> list[HostFile]:
    """The ``<!-- host-file: PATH [append] -->`` blocks of README's install section."""
    section = install_section(readme)
    files = []
    for marker in re.finditer(r"<!-- host-file: (\S+)( append)? -->", section):
        files.append(
            HostFile(marker.group(1), _block_after(section, marker.end()), bool(marker.group(2)))
        )
    assert files, "README's install section has no host-file blocks"
    return files


def readme_commands(readme: Path = README) -> list[str]:
    """The shell commands of README's ``<!-- host-commands -->`` block (no comments)."""
    section = install_section(readme)
    marker = section.index("<!-- host-commands -->")
    lines = _block_after(section, marker).splitlines()
    return [
        line.split("  #")[0].strip() for line in lines if line.strip() and not line.startswith("#")
    ]


def readme_snippet(language: str, readme: Path = README) -> str:
    """The first ``language`` code block of the install section (e.g. the template tags)."""
    section = install_section(readme)
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"no {language} block in README's install section"
    return match.group(1)


# --- services ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(url: str) -> None:
    """Drop and create the database named in a postgres:// URL."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the host project ----------------------------------------------------------------------
@dataclass
class HostProject:
    """A Django project in ``root`` run with ``venv``'s Python."""

    root: Path
    venv: HostVenv
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def write(self, relative: str, text: str, *, append: bool = False) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if append:
            with path.open("a") as fh:
                fh.write("\n" + text)
        else:
            path.write_text(text)
        return path

    def argv(self, command: str) -> list[str]:
        """README's ``python manage.py …`` / ``celery …`` in this venv."""
        words = shlex.split(command)
        if words[0] == "python":
            return [str(self.venv.python), *words[1:]]
        if words[0] == "celery":
            return [str(self.venv.python), "-m", "celery", *words[1:]]
        if words[0] == "django-admin":
            return [str(self.venv.python), "-m", "django", *words[1:]]
        raise ValueError(f"not a command this harness runs: {command!r}")

    def run(self, command: str | list[str], *, timeout: float = 300, check: bool = True):
        argv = self.argv(command) if isinstance(command, str) else command
        result = subprocess.run(
            argv, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
        return result

    def manage(self, *args: str, timeout: float = 300, check: bool = True):
        return self.run([str(self.venv.python), "manage.py", *args], timeout=timeout, check=check)

    def start(self, argv: list[str], *, log: Path, ready: bytes, timeout: float = 90):
        """Start a long-running process; return it once ``ready`` appears in its log."""
        handle = open(log, "ab")  # noqa: SIM115 (the process writes to it for its life)
        proc = subprocess.Popen(
            argv,
            cwd=self.root,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        self.processes.append(proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv} exited:\n{log.read_text()[-4000:]}")
            if ready in log.read_bytes():
                return proc
            time.sleep(0.2)
        raise RuntimeError(f"{argv} not ready:\n{log.read_text()[-4000:]}")

    def start_worker(self, command: str, *, log: Path) -> subprocess.Popen:
        """README's worker command, plus what keeps a test worker quiet and private."""
        argv = self.argv(command) + [
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
            "--hostname",
            f"host-{os.getpid()}-{time.monotonic_ns()}@%h",
        ]
        return self.start(argv, log=log, ready=b" ready.")

    def start_server(self, *, log: Path) -> str:
        """``runserver`` on a free port; returns its base URL."""
        port = free_port()
        argv = [str(self.venv.python), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        self.start(argv, log=log, ready=b"Quit the server")
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.processes.clear()


def host_env(*, database_url: str, broker_url: str, var: Path, **extra: str) -> dict[str, str]:
    """The environment of a host's commands: its own database and broker, no test
    settings module, unbuffered output."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "STYLERECS_", "CELERY_", "PYTEST", "DATABASE_URL"))
        and key not in {"SECRET_KEY", "PYTHONPATH", "VIRTUAL_ENV"}
    }
    env.update(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        HOST_VAR_DIR=str(var),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


# --- the browser ---------------------------------------------------------------------------
@contextmanager
def browser_page(*, width: int = 1280, height: int = 900) -> Iterator:
    """A page in Debian's headless Chromium (never a downloaded browser), as the e2e
    tests launch it; skips where it is not installed."""
    import pytest

    from tests.e2e.conftest import (
        ACTION_TIMEOUT_MS,
        CHROMIUM,
        CHROMIUM_ARGS,
        NAVIGATION_TIMEOUT_MS,
    )

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            context.set_default_timeout(ACTION_TIMEOUT_MS)
            context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
            yield context.new_page()
            context.close()
        finally:
            browser.close()
