"""Benchmark the storefront: the For-you page against the plain catalogue page.

    python bench/storefront.py [--duration 5] [--rounds 3] [--connections 8] [--threads 1]
                               [--workers 2] [--products 26] [--no-variants] [--keep]
                               [--impressions]

Sets up its own data in a dedicated PostgreSQL database (``stylerecs_bench`` next to
``DATABASE_URL``'s, dropped and made anew): the demo catalogue (``seed_demo``),
approved variants in one style (stylized in-process by the classic engine), product
style profiles, and a signed-in shopper with preferences, likes and stored
Recommendations computed by the real scoring service. Then it starts gunicorn on
127.0.0.1 with production-like settings (DEBUG off, persistent database connections)
and drives each page with wrk on loopback, the same shopper's session cookie on both,
for a bounded time: ``--rounds`` rounds of ``--duration`` seconds per page, the pages
taking turns so that a change in the machine's load falls on both. Nothing is sent
anywhere but 127.0.0.1.

Prints requests per second and latency percentiles of each page (the median of its
rounds), and their ratio (For you / catalogue): the cost of personalisation per request.

``--impressions`` measures the cost of experiment exposure logging instead: an A/A
experiment runs (two identical arms, so both servers render the same pages), and two
gunicorn servers on the same database take turns, one with ``IMPRESSIONS_ENABLED`` on
(the assignment stored once, one INSERT of every card per page) and one with it off;
the table gives each page's p95 with logging on and off and their ratio.
``--buffer-url redis://...`` makes "on" buffer in that Redis (``IMPRESSIONS_BUFFER_URL``)
instead; the buffer is flushed afterwards and the log's row count printed.
Needs ``wrk`` (``apt-get install wrk``) and gunicorn (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # the only address this benchmark ever sends to
PAGES = [("catalogue", "/"), ("for you", "/for-you/")]

# wrk reports p50/p75/p90/p99 by itself; a done() hook gives any percentile as JSON.
WRK_REPORT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"""

SETUP = r"""
import json
from django.contrib.auth import get_user_model
from django.test import Client
from stylerecs.models import Recommendation, Style
from stylerecs.services.events import interaction_record
from stylerecs.services.preferences import preferences_set
from stylerecs.services.profiles import profiles_refresh
from stylerecs.services.recommendations import recommendations_compute
from stylerecs.services.variants import variants_request
from stylerecs.shoppers import Shopper
from shop.models import Product

STYLE, VARIANTS = {style!r}, {variants!r}
style = Style.objects.get(slug=STYLE)
products = list(Product.objects.order_by("pk"))
if VARIANTS:
    variants_request(product_ids=[p.pk for p in products], style_ids=[style.pk], source="bench")
profiles_refresh()
user, _ = get_user_model().objects.get_or_create(username="bench-shopper")
shopper = Shopper.for_user(user)
preferences_set(shopper=shopper, weights={{style.pk: 1.0}})
for product in products[:3]:
    interaction_record(shopper=shopper, product_id=product.pk, kind="like")
stored = recommendations_compute(shopper=shopper)
if {experiment!r}:
    from stylerecs.models import Arm, Experiment
    from stylerecs.services.experiments import experiment_start

    aa = Experiment.objects.create(name="A/A", slug="bench-aa")
    Arm.objects.create(experiment=aa, name="A", slug="a", is_control=True)
    Arm.objects.create(experiment=aa, name="B", slug="b")
    experiment_start(experiment=aa)
client = Client()
client.force_login(user)
print(json.dumps({{
    "session": client.cookies["sessionid"].value,
    "products": len(products),
    "recommendations": Recommendation.objects.filter(user=user).count(),
    "stored": stored,
}}))
"""


# --impressions, second measure: in one process, requests with logging on and off
# alternate one by one, so that the load of a shared machine falls on both alike.
INTERLEAVED = r"""
import json, statistics, time
from django.conf import settings
from django.test import Client, override_settings
from django.test.utils import setup_test_environment

setup_test_environment()  # Client needs the test environment; the database is the real one
client = Client()
client.cookies["sessionid"] = {session!r}
times = {{(page, mode): [] for page in ("/", "/for-you/") for mode in ("off", "on")}}
for i in range({requests}):
    for page in ("/", "/for-you/"):
        for mode in (("on", "off") if i % 2 else ("off", "on")):
            flags = {{
                **settings.STYLERECS,
                "IMPRESSIONS_ENABLED": mode == "on",
                "IMPRESSIONS_BUFFER_URL": {buffer!r} if mode == "on" else None,
            }}
            with override_settings(STYLERECS=flags):
                started = time.perf_counter()
                response = client.get(page)
                times[(page, mode)].append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
def p95(values):
    return statistics.quantiles(values, n=20)[-1]
out = {{
    f"{{page}} {{mode}}": [statistics.median(v) * 1e3, p95(v) * 1e3]
    for (page, mode), v in times.items()
}}
for page in ("/", "/for-you/"):  # each "on" request against the "off" one next to it
    pairs = zip(times[(page, "on")], times[(page, "off")])
    out[f"{{page}} paired"] = statistics.median(a - b for a, b in pairs) * 1e3
if {buffer!r}:  # write what was buffered, as the periodic flush would
    from stylerecs.services.impression_buffer import impressions_flush

    flags = {{**settings.STYLERECS, "IMPRESSIONS_BUFFER_URL": {buffer!r}}}
    with override_settings(STYLERECS=flags):
        while impressions_flush():
            pass
print(json.dumps(out))
"""

# --buffer-url: what the "on" server buffered, written (the periodic flush's work), and
# the log's size.
FLUSH = r"""
from stylerecs.models import Impression
from stylerecs.services.impression_buffer import impressions_flush
while impressions_flush():
    pass
print(Impression.objects.count())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def database_urls(base: str, name: str) -> tuple[str, str]:
    """(the benchmark database's URL, the maintenance database's URL) on base's server."""
    parts = urlsplit(base)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise SystemExit("The storefront benchmark needs PostgreSQL: set DATABASE_URL.")
    return urlunsplit(parts._replace(path=f"/{name}")), urlunsplit(parts._replace(path="/postgres"))


def recreate_database(maintenance_url: str, name: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict, *args: str, timeout: float = 900) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def wait_until_serving(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited before it served a page")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not serve the catalogue in time")


def fetch(port: int, path: str, session: str) -> str:
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}", headers={"Cookie": f"sessionid={session}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def run_wrk(port: int, path: str, session: str, args, script: Path, seconds: float) -> dict:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-H",
        f"Cookie: sessionid={session}",
        "-s",
        str(script),
        f"http://{HOST}:{port}{path}",
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    stats = json.loads(lines[-1])
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


def median_of(rounds: list[dict]) -> dict:
    keys = ("rps", "p50_us", "p95_us", "p99_us")
    result = {key: statistics.median(r[key] for r in rounds) for key in keys}
    result["errors"] = sum(r["errors"] + r["non2xx"] for r in rounds)
    result["requests"] = sum(r["requests"] for r in rounds)
    return result


def print_table(results: dict, args, setup: dict) -> None:
    print()
    print(
        f"Storefront: gunicorn {args.workers} sync workers, PostgreSQL, wrk -t{args.threads} "
        f"-c{args.connections}, {args.rounds} rounds x {args.duration}s per page on {HOST}; "
        f"{setup['products']} products, {setup['recommendations']} stored recommendations."
    )
    header = f"{'page':<10} {'path':<11} {'cards':>5} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8}"
    header += f" {'p99 ms':>8} {'requests':>9} {'errors':>7}"
    print(header)
    rule = "-" * len(header)
    print(rule)
    for name, path in PAGES:
        r = results[name]
        print(
            f"{name:<10} {path:<11} {setup['cards'][name]:>5} {r['rps']:>8.1f} "
            f"{r['p50_us'] / 1e3:>8.1f} "
            f"{r['p95_us'] / 1e3:>8.1f} {r['p99_us'] / 1e3:>8.1f} {r['requests']:>9} "
            f"{r['errors']:>7}"
        )
    mine, base = results["for you"], results["catalogue"]
    print(rule)
    print(
        f"{'ratio':<10} {'for you/cat':<11} {'':>5} {mine['rps'] / base['rps']:>8.2f} "
        f"{mine['p50_us'] / base['p50_us']:>8.2f} {mine['p95_us'] / base['p95_us']:>8.2f} "
        f"{mine['p99_us'] / base['p99_us']:>8.2f}"
    )


def print_impressions_table(results: dict, args, setup: dict) -> None:
    print()
    print(
        f"Impression logging: gunicorn {args.workers} sync workers per server, PostgreSQL, "
        f"wrk -t{args.threads} -c{args.connections}, {args.rounds} rounds x "
        f"{args.duration}s per page and mode on {HOST}; an A/A experiment running."
    )
    header = (
        f"{'page':<10} {'cards':>5} {'req/s off':>10} {'req/s on':>9} {'p50 off':>8} "
        f"{'p50 on':>7} {'p95 off':>8} {'p95 on':>7} {'p95 on/off':>11} {'paired':>7} "
        f"{'errors':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, _path in PAGES:
        off, on = results[(name, "off")], results[(name, "on")]
        print(
            f"{name:<10} {setup['cards'][name]:>5} {off['rps']:>10.1f} {on['rps']:>9.1f} "
            f"{off['p50_us'] / 1e3:>8.1f} {on['p50_us'] / 1e3:>7.1f} "
            f"{off['p95_us'] / 1e3:>8.1f} {on['p95_us'] / 1e3:>7.1f} "
            f"{on['p95_us'] / off['p95_us']:>11.2f} {results[(name, 'paired')]:>7.2f} "
            f"{off['errors'] + on['errors']:>7}"
        )
    print(
        "p95 on/off: ratio of the medians of the rounds' p95; paired: median over rounds of "
        "each round's on/off p95 ratio (the two ran back to back, under the same load)."
    )
    print(f"(impressions logged: {setup.get('impressions', 'n/a')})")


def print_interleaved(env: dict, args, setup: dict) -> None:
    code = INTERLEAVED.format(
        session=setup["session"], requests=args.interleaved_requests, buffer=args.buffer_url
    )
    times = json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])
    print()
    print(
        f"In one process (Django's test client, no gunicorn), {args.interleaved_requests} "
        "requests per page and mode, on and off alternating request by request:"
    )
    header = f"{'page':<10} {'p50 off':>8} {'p50 on':>7} {'p95 off':>8} {'p95 on':>7}"
    header += f" {'p95 on/off':>11} {'on-off ms':>10}"
    print(header)
    print("-" * len(header))
    for name, path in PAGES:
        (p50_off, p95_off), (p50_on, p95_on) = times[f"{path} off"], times[f"{path} on"]
        print(
            f"{name:<10} {p50_off:>8.1f} {p50_on:>7.1f} {p95_off:>8.1f} {p95_on:>7.1f} "
            f"{p95_on / p95_off:>11.2f} {times[f'{path} paired']:>10.2f}"
        )
    print("on-off ms: median over request pairs of the extra time with logging on.")


def start_server(env: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "shop.wsgi:application",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(env["BENCH_WORKERS"]),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    wait_until_serving(port, server)
    return server, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=int, default=5, help="Seconds per page and round (max 60)."
    )
    parser.add_argument("--rounds", type=int, default=3, help="Rounds (max 10).")
    parser.add_argument("--warmup", type=int, default=2, help="Unmeasured seconds per page.")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes.")
    parser.add_argument("--products", type=int, default=26, help="Demo products (max 26).")
    parser.add_argument("--style", default="noir", help="The shopper's style (a demo style).")
    parser.add_argument(
        "--no-variants", action="store_true", help="Skip stylizing (faster set-up)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--interleaved-requests",
        type=int,
        default=150,
        help="--impressions: requests per page and mode in the in-process measure.",
    )
    parser.add_argument(
        "--impressions",
        action="store_true",
        help="Compare each page with impression logging on and off (an A/A experiment runs).",
    )
    parser.add_argument(
        "--buffer-url",
        help="--impressions: logging on buffers in this Redis (IMPRESSIONS_BUFFER_URL; its "
        "key is deleted first) instead of one INSERT per page.",
    )
    parser.add_argument(
        "--database-name", default="stylerecs_bench", help="Dropped and created anew."
    )
    args = parser.parse_args()
    args.duration = max(1, min(args.duration, 60))
    args.rounds = max(1, min(args.rounds, 10))
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/stylerecs")
    db_url, maintenance_url = database_urls(base, args.database_name)
    var_dir = Path(tempfile.mkdtemp(prefix="stylerecs-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SECRET_KEY": secrets.token_urlsafe(40),
        "DEBUG": "0",
        "ALLOWED_HOSTS": HOST,
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "SERVE_MEDIA": "0",
        "STYLERECS_VAR_DIR": str(var_dir),
        "STYLERECS_AUTO_APPROVE": "1",
        # Set-up runs tasks in-process: no broker, no worker to start.
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "CELERY_BROKER_URL": "memory://",
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    if args.buffer_url:
        import redis

        redis.Redis.from_url(args.buffer_url).delete(
            *(f"stylerecs:impressions{suffix}" for suffix in ("", ":flushing", ":flushing:batch"))
        )
    print(f"Setting up {args.database_name} ({args.products} products)...", flush=True)
    started = time.monotonic()
    recreate_database(maintenance_url, args.database_name)
    servers: dict = {}
    try:
        manage(env, "migrate", "--no-input", "-v0")
        manage(env, "seed_demo", "--limit", str(args.products), "-v0")
        code = SETUP.format(
            style=args.style, variants=not args.no_variants, experiment=args.impressions
        )
        setup = json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])
        print(f"Set up in {time.monotonic() - started:.0f}s: {setup}", flush=True)

        modes = ["on", "off"] if args.impressions else [""]
        for mode in modes:
            mode_env = {**env, "BENCH_WORKERS": str(args.workers)}
            if mode:
                mode_env["STYLERECS_IMPRESSIONS_ENABLED"] = "1" if mode == "on" else "0"
            if mode == "on" and args.buffer_url:
                mode_env["STYLERECS_IMPRESSIONS_BUFFER_URL"] = args.buffer_url
            servers[mode] = start_server(mode_env)
        port = servers[modes[0]][1]
        html = {name: fetch(port, path, setup["session"]) for name, path in PAGES}
        if "Picked for your taste" not in html["for you"]:
            raise SystemExit("The For-you page is not personalised: the set-up failed.")
        # Product cards on each page (both pages give each card an <h2>).
        setup["cards"] = {name: page.count("<h2>") for name, page in html.items()}

        rounds: dict = {(name, mode): [] for name, _ in PAGES for mode in modes}
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_REPORT)
        try:
            for mode in modes:  # warm every server and page: imports, templates, connections
                for _name, path in PAGES:
                    run_wrk(
                        servers[mode][1],
                        path,
                        setup["session"],
                        args,
                        Path(script.name),
                        args.warmup,
                    )
            for number in range(1, args.rounds + 1):
                for name, path in PAGES:
                    # Alternate which mode goes first, so a drift in load cancels out.
                    for mode in modes if number % 2 else modes[::-1]:
                        stats = run_wrk(
                            servers[mode][1],
                            path,
                            setup["session"],
                            args,
                            Path(script.name),
                            args.duration,
                        )
                        rounds[(name, mode)].append(stats)
                        label = f"{name} ({mode})" if mode else name
                        print(f"  round {number}, {label}: {stats['rps']:.0f} req/s", flush=True)
        finally:
            os.unlink(script.name)
        results = {key: median_of(r) for key, r in rounds.items()}
        if args.impressions:
            for name, _path in PAGES:
                results[(name, "paired")] = statistics.median(
                    on["p95_us"] / off["p95_us"]
                    for on, off in zip(rounds[(name, "on")], rounds[(name, "off")], strict=True)
                )
            flush_env = {**env}
            if args.buffer_url:
                flush_env["STYLERECS_IMPRESSIONS_BUFFER_URL"] = args.buffer_url
            setup["impressions"] = manage(flush_env, "shell", "-c", FLUSH).strip().splitlines()[-1]
            print_impressions_table(results, args, setup)
            print_interleaved(env, args, setup)
        else:
            print_table({name: results[(name, "")] for name, _ in PAGES}, args, setup)

    finally:
        for server, _port in servers.values():
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=30)
        if not args.keep:
            recreate_database(maintenance_url, args.database_name, drop_only=True)
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
