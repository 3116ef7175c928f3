"""`pos run`: serve the API and the till from one process or from N worker processes.

With `--workers N` (or `[server] workers`, default one per CPU core) the parent process
prepares once (embedded database started and supervised, schema migrated, admin token
resolved, demo data loaded), then starts N workers that each listen on the same port with
`SO_REUSEPORT`, so the kernel spreads connections over them. Everything the workers share
lives in PostgreSQL (throttles, till credentials, signing keys), the outbox is claimed with
`SKIP LOCKED` leases, and Prometheus counters are added up over the workers through
`PROMETHEUS_MULTIPROC_DIR`. A worker that dies is started again; a worker whose parent
died (say by `kill -9`) stops by itself. SIGTERM or SIGINT stops everything, and the
embedded PostgreSQL last.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web

from pos import logs
from pos.cli.texts import pad, role_name, say
from pos.config import Config
from pos.db.availability import wait_until_reachable
from pos.db.embedded import embedded_url, supervise
from pos.errors import ConfigError
from pos.messages import words
from pos.service import admin_token, metrics_token

log = logging.getLogger("pos.serve")

PARENT_CHECK_SECONDS = 1.0
RESTART_PAUSE_SECONDS = 1.0
GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


def worker_count(config: Config, requested: int | None) -> int:
    wanted = requested if requested is not None else config.server.workers
    return max(1, wanted or os.cpu_count() or 1)


T = TypeVar("T")


def _run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Serve on uvloop where it is installed: its transports write to sockets at a
    fraction of the default loop's cost, which is most of the till's hot path."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def _row(label_key: str, value: str) -> str:
    """A banner line: its label in the terminal's language, the value as it is."""
    return f"  {pad(say(label_key), 12)}{value}"


def _banner(config: Config, token: str | None, demo: dict[str, Any] | None) -> None:
    base = config.server.public_url or f"http://{config.server.host}:{config.server.port}"
    print(say("serve.listening", base=base))
    print(_row("serve.till", f"{base}/till/"))
    print(_row("serve.console", f"{base}/admin/  {say('serve.accounts')}"))
    print(_row("serve.api", f"{base}/v1/openapi.json"))
    print(_row("serve.readiness", f"{base}/readyz"))
    if config.metrics.token:
        # The token came from the configuration: say how to send it, never show it.
        print(_row("serve.metrics", say("serve.metrics_on", url=f"{base}/metrics")))
    else:
        print(_row("serve.metrics", say("serve.metrics_off", url=f"{base}/metrics")))
    if token is not None:
        print(say("serve.admin_token", token=token))
    if demo is not None:
        from pos.cli.demo import basket_lines

        for name, shop in demo["merchants"].items():
            print(say("serve.till_secret", name=name, secret=shop["till_secret"]))
        voucher = demo["vouchers"]["wish"][0]
        print(say("serve.demo_voucher", code=voucher["code"]))
        print(say("serve.demo_token", token=voucher["token"]))
        print(say("serve.holder_page", url=f"{base}/v/{voucher['code']}"))
        for login, account in demo.get("accounts", {}).items():
            print(say("serve.sign_in", role=role_name(account["role"]), login=login,
                      password=account["one_time_password"]))
        print(say("serve.baskets"))
        for line in basket_lines(demo):
            print(line)
    sys.stdout.flush()


def _freeze_startup_heap() -> None:
    """What start-up built (modules, plugins, templates, the app) lives as long as the
    process: frozen out of the collector's sight, so collecting a request's short-lived
    objects no longer walks it, and collected less often (a request makes a few hundred)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def _database_reachable(config: Config) -> None:
    """A configured database that is not up yet is waited for (`[database]
    start_wait_seconds`); the embedded one was started by `run` itself."""
    await wait_until_reachable(config.database.url, config.database.start_wait_seconds)


def _check_address(host: str, port: int) -> None:
    """Bind the service's address once, as the app will, before anything starts: a port
    another process holds (another `pos run` too: its sockets share the port only with its
    own workers) or an address this machine does not have stops the start here, with one
    line, instead of a trace after the banner, or from every worker again and again."""
    address = f"{host}:{port}"
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        missing: OSError | None = None
        bound = 0
        for family, kind, proto, _, where in found:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    probe.bind(where)
                    bound += 1
                except OSError as exc:
                    # As asyncio does: an address the machine does not have (say IPv6 for
                    # "localhost" where IPv6 is off) is skipped while another one works.
                    if exc.errno != errno.EADDRNOTAVAIL:
                        raise
                    missing = exc
        if missing is not None and not bound:
            raise missing
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = words("端口已被其他进程占用", "the port is in use by another process")
        else:
            reason = words("{reason}", "{reason}", reason=exc.strerror or exc)
        raise ConfigError(words("无法在 {address} 上监听：{reason}",  # noqa: RUF001
                                "cannot listen on {address}: {reason}",
                                address=address, reason=reason)) from exc


async def _until_stopped(parent: int | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PARENT_CHECK_SECONDS)
        if parent is not None and os.getppid() != parent:
            log.warning("the parent process is gone; this worker stops")
            return


async def _worker(config: Config, parent: int) -> int:
    """One worker: the app on the shared port, until a signal or the parent's death."""
    from pos.api.app import create_app

    await _database_reachable(config)
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.server.host, config.server.port,
                          reuse_port=True).start()
        log.info("worker serving", extra={"pid": os.getpid()})
        _freeze_startup_heap()
        await _until_stopped(parent)
    finally:
        await runner.cleanup()
    return 0


async def _single(config: Config, demo: bool, token: str | None) -> int:
    """One process: the app, the banner, and wait for a signal."""
    from pos.api.app import create_app
    from pos.api.state import SERVICES
    from pos.cli.demo import load_demo

    await _database_reachable(config)
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.server.host, config.server.port).start()
        _banner(config, token, await load_demo(app[SERVICES]) if demo else None)
        _freeze_startup_heap()
        await _until_stopped()
    finally:
        await runner.cleanup()
    return 0


async def _prepare(config: Config, demo: bool) -> dict[str, Any] | None:
    """What the parent does once before the workers start: migrate, load the demo."""
    from pos.cli.demo import load_demo
    from pos.service.startup import running_services

    await _database_reachable(config)
    async with running_services(config, pool_size=(1, 2)) as services:
        return await load_demo(services) if demo else None


def _worker_main(config: Config, parent: int) -> None:
    logs.configure(json_lines=config.server.log_format != "text")
    sys.exit(_run_loop(_worker(config, parent)))


def _mark_dead(pid: int | None) -> None:
    if pid is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def _supervise_workers(config: Config, count: int) -> int:
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parent = os.getpid()

    def start() -> multiprocessing.process.BaseProcess:
        process = context.Process(target=_worker_main, args=(config, parent), daemon=False)
        process.start()
        return process

    workers = [start() for _ in range(count)]
    try:
        while not stopping:
            time.sleep(0.2)
            for index, process in enumerate(workers):
                if not process.is_alive() and not stopping:
                    log.warning("worker exited (code %s); starting another", process.exitcode)
                    _mark_dead(process.pid)
                    time.sleep(RESTART_PAUSE_SECONDS)  # a worker that cannot start (no
                    workers[index] = start()           # database yet) is not spun hot
    finally:
        for process in workers:
            if process.is_alive():
                process.terminate()
        for process in workers:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
            _mark_dead(process.pid)
    return 0


def run(config: Config, *, demo: bool, workers: int | None) -> int:
    count = worker_count(config, workers)
    _check_address(config.server.host, config.server.port)
    with contextlib.ExitStack() as stack:
        if not config.database.url:
            # The parent owns the embedded server: it starts it, restarts it if it dies,
            # and stops it last; workers connect to it by its URL.
            url = embedded_url(config.data_dir)
            stack.enter_context(supervise(config.data_dir))
            config = dataclasses.replace(
                config, database=dataclasses.replace(config.database, url=url))
        token, generated = admin_token.resolve_and_say_if_new(config)
        metrics_token.resolve(config)  # a token too short stops here, not in every worker
        shown = token if generated else None
        if count == 1:
            return _run_loop(_single(config, demo, shown))
        metrics_dir = tempfile.mkdtemp(prefix="pos-metrics-")
        stack.callback(shutil.rmtree, metrics_dir, True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        demo_data = _run_loop(_prepare(config, demo))
        _banner(config, shown, demo_data)
        print(_row("serve.workers", str(count)))
        sys.stdout.flush()
        return _supervise_workers(config, count)
    return 0
