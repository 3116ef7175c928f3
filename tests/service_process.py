"""Run `pos run` as its own process for tests that kill things: start it on a free port
with its own data folder, wait until it answers, stop it; and an admin set-up over HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from tests import log_guard
from tests.conftest import ADMIN_TOKEN, METRICS_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


async def start_service(data_dir: Path, *, workers: int = 1,
                        env_overrides: dict[str, str] | None = None) -> ServiceProcess:
    """`pos run --workers N` with only the given configuration (no other POS_ variable)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POS_")}
    env.update({"POS_DATA_DIR": str(data_dir), "POS_SERVER_PORT": str(port),
                "POS_ADMIN_TOKEN": ADMIN_TOKEN, "POS_METRICS_TOKEN": METRICS_TOKEN,
                "POS_CONFIG": "/nonexistent"})
    env.update(env_overrides or {})
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - test set-up
    log_path = data_dir.parent / f"service-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 - it runs on; we only start it
            [sys.executable, "-m", "pos.cli.main", "run", "--workers", str(workers)],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    service = ServiceProcess(process, f"http://127.0.0.1:{port}", log_path)
    log_guard.watch_file(log_path)
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.poll() is not None:
                raise AssertionError("the service exited:\n" + service.log_text()[-3000:])
            try:
                async with session.get(service.url + "/readyz") as resp:
                    if resp.status == 200:
                        return service
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    service.stop()
    raise AssertionError("the service did not start:\n" + service.log_text()[-3000:])


@dataclass
class Setup:
    """A shop with one till and a program it accepts, made through the admin API."""

    merchant_id: str
    till_id: str
    till_secret: str
    program_id: str

    def till(self, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.till_secret}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers


async def admin_post(session: aiohttp.ClientSession, url: str, body: Any) -> Any:
    async with session.post(url, json=body, headers=ADMIN) as resp:
        data = await resp.json()
        assert resp.status in (200, 201), (resp.status, data)
        return data


async def set_up_shop(session: aiohttp.ClientSession, base: str, *,
                      face_value: int = 30000) -> Setup:
    merchant = await admin_post(session, base + "/v1/merchants", {"name": "Shop"})
    till = await admin_post(session, f"{base}/v1/merchants/{merchant['id']}/tills",
                            {"name": "Till 1"})
    today = date.today()
    program = await admin_post(session, base + "/v1/programs", {
        "name": "Outage program", "currency": "CNY", "restrictions": ["any"],
        "face_value": face_value, "valid_from": str(today - timedelta(days=1)),
        "valid_until": str(today + timedelta(days=60))})
    await admin_post(session, f"{base}/v1/programs/{program['id']}/merchants",
                     {"merchant_id": merchant["id"]})
    return Setup(merchant["id"], till["id"], till["secret"], program["id"])


async def issue(session: aiohttp.ClientSession, base: str, program_id: str,
                count: int) -> list[dict[str, str]]:
    data = await admin_post(session, f"{base}/v1/programs/{program_id}/vouchers", {
        "beneficiaries": [{"ref": f"ben-{uuid.uuid4().hex[:8]}"} for _ in range(count)]})
    return list(data["vouchers"])
