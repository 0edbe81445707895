"""Twelve-factor settings (shop/settings.py): production is safe, bad values are clear."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, env_overrides: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "SECURE_SSL_REDIRECT",
            "SERVE_MEDIA",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env.update({"STYLERECS_VAR_DIR": str(tmp_path)}, **env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_overrides={
            "SECRET_KEY": "x7!" + "q" * 60 + "Zp#4",
            "ALLOWED_HOSTS": "shop.example.com",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/stylerecs",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        },
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_secret_key_without_debug_is_refused_with_a_clear_error(tmp_path):
    result = manage("check", env_overrides={}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_malformed_boolean_setting_names_the_variable(tmp_path):
    result = manage("check", env_overrides={"DEBUG": "perhaps"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DEBUG='perhaps' is not a boolean" in result.stderr


WORKER_INIT = """
import django
django.setup()
from celery import signals
import stylerecs.tasks  # what autodiscover_tasks() imports in a worker, in any host
from stylerecs.worker_signals import keep_freed_memory
results = dict(signals.worker_init.send(sender=None))
print(results[keep_freed_memory])
"""


def test_workers_keep_freed_memory_unless_the_setting_turns_it_off(tmp_path):
    env = {**os.environ, "STYLERECS_VAR_DIR": str(tmp_path)}
    run = [sys.executable, "-c", WORKER_INIT]
    on = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert on.stdout.split() == ["True"], on.stderr
    env["STYLERECS_KEEP_FREED_MEMORY"] = "0"
    off = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert off.stdout.split() == ["False"], off.stderr
