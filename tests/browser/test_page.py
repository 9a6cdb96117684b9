"""A real headless Chromium opens a rendered production's v2 page through its signed link.

Chromium is driven over the DevTools protocol (aiohttp's WebSocket client; no browser
automation package needed). It checks what a director gets: the player knows the master's
full duration, every player is loudness-matched, the project download is a zip whose Live
set passes the export checker, and an expired link shows the 403 page. A screenshot of the
page is saved under the test's tmp folder (its path is printed).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
import time
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot import links
from bot.web import WebServer
from core.production import Production
from tests.bot.test_web import (  # noqa: F401  (the page's fixtures, found by name)
    PRODUCTION_ID,
    SECRET,
    data_dir_fixture,
    local_url,
    production_fixture,
    server_fixture,
    shared_production,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium() -> str:
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium binary on PATH (install Debian's `chromium` package: "
                "apt-get install -y chromium) — the browser test needs a real browser")


class _Tab:
    """One page target over the DevTools protocol: commands, and events waited for by name."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._waiters: list[tuple[str, Callable[[dict[str, Any]], bool],
                                  asyncio.Future[dict[str, Any]]]] = []
        self._reader = asyncio.create_task(self._read(), name="devtools-reader")

    async def _read(self) -> None:
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data:
                future = self._replies.pop(data["id"])
                if "error" in data:
                    future.set_exception(RuntimeError(str(data["error"])))
                else:
                    future.set_result(data.get("result", {}))
                continue
            params = data.get("params", {})
            for waiter in [w for w in self._waiters if w[0] == data.get("method") and w[1](params)]:
                self._waiters.remove(waiter)
                if not waiter[2].done():
                    waiter[2].set_result(params)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._replies[number] = future
        await self._ws.send_json({"id": number, "method": method, "params": params})
        async with asyncio.timeout(60):
            return await future

    def expect(self, method: str, when: Callable[[dict[str, Any]], bool] = lambda params: True,
               ) -> asyncio.Future[dict[str, Any]]:
        """A future for the next ``method`` event whose parameters satisfy ``when``."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append((method, when, future))
        return future

    async def open(self, url: str) -> None:
        loaded = self.expect("Page.loadEventFired")
        await self.send("Page.navigate", url=url)
        async with asyncio.timeout(60):
            await loaded

    async def js(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True,
                                 returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"])
        return result["result"].get("value")

    async def close(self) -> None:
        self._reader.cancel()
        await self._ws.close()


@pytest.fixture(scope="module")
def browser_binary() -> str:
    return _chromium()


@pytest.fixture(scope="module")
def web_production(tmp_path_factory: pytest.TempPathFactory,
                   browser_binary: str) -> tuple[Path, Production]:
    """Rendered once per session with tests/bot/test_web.py (only when Chromium is here).

    The page fixtures imported from there (``data_dir``, ``production``, ``server``) take this
    one, so without a browser the module skips before anything is rendered."""
    return shared_production(tmp_path_factory)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def tab(browser_binary: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[_Tab]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = await asyncio.create_subprocess_exec(
        browser_binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-dev-shm-usage", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
        "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={profile}", "--window-size=1200,1600", "about:blank",
        stdout=subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stderr is not None
        async with asyncio.timeout(60):  # Chromium prints its DevTools address when ready
            while True:
                line = (await process.stderr.readline()).decode(errors="replace")
                assert line, "Chromium exited before it was ready"
                found = re.search(r"DevTools listening on ws://([^/]+)/", line)
                if found:
                    break
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{found.group(1)}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t["type"] == "page")
            ws = await session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
            devtools = _Tab(ws)
            await devtools.send("Page.enable")
            yield devtools
            await devtools.close()
    finally:
        process.terminate()
        await process.wait()


def _page_link(number: int, *, ttl_s: float = 600, now: float | None = None) -> str:
    return links.sign_page(PRODUCTION_ID, number, secret=SECRET, ttl_s=ttl_s,
                           base_url="https://vyke.example", now=now)


async def test_chromium_plays_compares_and_downloads_v2(
        tab: _Tab, server: WebServer, production: Production, data_dir: Path,
        tmp_path: Path) -> None:
    import soundfile

    from core.artifacts import LocalArtifactStore
    from jobs.export import check_live_set

    stored = LocalArtifactStore(data_dir)

    v1, v2 = production.versions
    await tab.open(local_url(_page_link(2), server))
    assert await tab.js("performance.getEntriesByType('navigation')[0].responseStatus") == 200
    assert (await tab.js("document.title")).startswith('Night <Drive> & "Friends"')

    # the player streams the MP3 preview and has its duration (read by the browser over HTTP)
    master_s = soundfile.info(stored.fetch(v2.artifacts["preview.mp3"])).duration
    players = await tab.js("""Promise.all([...document.querySelectorAll('audio')].map(a =>
        new Promise((done, fail) => {
          const report = () => done({version: a.dataset.version, duration: a.duration,
                                     volume: a.volume, gainDb: parseFloat(a.dataset.gainDb)});
          if (a.readyState >= 1) report();
          else { a.addEventListener('loadedmetadata', report); a.addEventListener('error',
                 () => fail('audio error ' + (a.error && a.error.code))); a.load(); }
        })))""")
    assert [p["version"] for p in players] == ["2", "1"]
    # (an MP3's length is known to a frame or so: the encoder's delay and padding)
    assert players[0]["duration"] == pytest.approx(master_s, abs=0.1)
    assert players[1]["duration"] == pytest.approx(
        soundfile.info(stored.fetch(v1.artifacts["preview.mp3"])).duration, abs=0.1)
    # loudness-matched: each player's volume is its gain from the measured integrated LUFS
    quietest = min(v.measurements["integrated_lufs"] for v in (v1, v2))
    for player, version in zip(players, (v2, v1), strict=True):
        expected_db = quietest - version.measurements["integrated_lufs"]
        assert player["gainDb"] == pytest.approx(expected_db, abs=0.01)
        assert player["volume"] == pytest.approx(10 ** (expected_db / 20), abs=1e-3)
    assert players[0]["volume"] < 0.9 and players[1]["volume"] == 1.0  # louder v2 turned down
    # seeking works: the player asks for a byte range and lands at the new position
    seeked = await tab.js("""new Promise(done => { const a = document.getElementById('v2');
        a.addEventListener('seeked', () => done(a.currentTime), {once: true});
        a.currentTime = a.duration * 0.75; })""")
    assert seeked == pytest.approx(master_s * 0.75, abs=0.1)

    # the arrangement picture loaded
    assert await tab.js("""new Promise(done => { const i = document.querySelector('img');
        if (i.complete) done(i.naturalWidth); else i.onload = () => done(i.naturalWidth); })""") > 100

    # the project download button, clicked: Chromium saves a zip that passes the export checker
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    await tab.send("Browser.setDownloadBehavior", behavior="allowAndName",
                   downloadPath=str(downloads), eventsEnabled=True)
    begun = tab.expect("Browser.downloadWillBegin")
    done = tab.expect("Browser.downloadProgress", lambda p: p.get("state") in ("completed", "canceled"))
    await tab.js("document.querySelector('a[data-artifact=\"project.zip\"]').click()")
    async with asyncio.timeout(120):
        started, finished = await begun, await done
    assert finished["state"] == "completed"
    assert started["suggestedFilename"].endswith("Project.zip")
    saved = downloads / finished["guid"]  # allowAndName: saved under the download's guid
    assert saved.stat().st_size == stored.size(v2.artifacts["project.zip"])
    archive = zipfile.ZipFile(saved)
    als = [name for name in archive.namelist() if name.endswith(".als")]
    assert len(als) == 1
    report = check_live_set(archive.read(als[0]))
    assert report.ok, report.problems
    assert "tempo and time signature" in report.rules

    # a screenshot of the whole page, kept as the test's artifact
    shot = await tab.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    path = tmp_path / "production-page-v2.png"
    path.write_bytes(png)
    print(f"screenshot: {path}")


async def test_chromium_shows_the_403_page_for_an_expired_link(
        tab: _Tab, server: WebServer) -> None:
    await tab.open(local_url(_page_link(2, ttl_s=60, now=time.time() - 61), server))
    assert await tab.js("performance.getEntriesByType('navigation')[0].responseStatus") == 403
    text = await tab.js("document.body.innerText")
    assert "This link has expired or is not valid" in text
    assert "Night" not in text and "LUFS" not in text
    assert await tab.js("document.querySelectorAll('audio, a, img').length") == 0
