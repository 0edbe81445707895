"""A host that followed README's install section but skipped its Celery app: stylerecs'
tasks would go to Celery's default app (amqp://localhost). ``manage.py check`` says so
(stylerecs.W080) without opening any connection."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .harness import HostVenv, host_env
from .plain_shop import create_plain_shop, install_stylerecs

# Every outgoing connection is recorded and refused: the check must not try one.
CHECK = r"""
import io, json, os, socket

attempts = []
def refuse(self, address, *args, **kwargs):
    attempts.append(repr(address))
    raise ConnectionRefusedError(f"the test refuses connections ({address!r})")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse

import django
django.setup()
# Settings read the broker URL from the environment; Celery's default app would use
# the variable too, so take it away now that Django has it: the situation of a host
# whose CELERY_BROKER_URL is only in settings.
os.environ.pop("CELERY_BROKER_URL")
from django.core.management import call_command
from stylerecs.tasks import refresh_profiles

out, err = io.StringIO(), io.StringIO()
call_command("check", stdout=out, stderr=err)
print(json.dumps({
    "output": out.getvalue() + err.getvalue(),
    "attempts": attempts,
    "broker": refresh_profiles.app.connection_for_write().as_uri(),
}))
"""


def test_host_without_celery_app_is_warned_without_connecting(tmp_path, host_services):
    database_url, broker_url, prefix = host_services
    venv = HostVenv(Path(sys.prefix))  # this checkout's stylerecs: the checks are the subject
    env = host_env(
        database_url=database_url,
        broker_url=broker_url,
        var=tmp_path,
        HOST_REDIS_PREFIX=prefix,
        DJANGO_SETTINGS_MODULE="myshop.settings",
    )
    host = create_plain_shop(tmp_path / "myshop", venv, env)
    install_stylerecs(host, celery=False)

    result = venv.run(CHECK, cwd=host.root, env=env)

    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["broker"].startswith("amqp://guest:**@localhost")  # where .delay() would go
    assert "stylerecs.W080" in report["output"]
    assert "Celery's default app" in report["output"]
    assert report["attempts"] == []
