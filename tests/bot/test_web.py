"""``vyke web`` over real HTTP: signed downloads with Range, the production page, the 403 page,
Slack's HTTP mode, and a 100 MB download that never sits in the server's memory.

The page is built from a real rendered production (a short house track, v1 and a v2 with
"bass down" from the Mixing Chef and "louder" from the Mastering Chef, v2 exported as a Live
project), rendered once for the module.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot import links
from bot.settings import Settings
from bot.web import WebServer, loudness_gains_db, open_web
from core.artifacts import LocalArtifactStore
from core.production import Production, Version
from tests.conftest import made_once

ROOT = Path(__file__).resolve().parents[2]
SECRET = "web-test-secret"
PRODUCTION_ID = "slack:T0VYKE:C0MUSIC:1700000000.000100"
TITLE = 'Night <Drive> & "Friends"'

pytestmark = pytest.mark.asyncio(loop_scope="module")


# --- a real rendered production (shared with tests/browser/test_page.py) ------------------


def render_production(data_dir: Path, *, production_id: str = PRODUCTION_ID) -> Production:
    """A house track rendered for real as v1, "bass down, master louder" as v2, v2 exported.

    Made as the workers make it: rendered and exported by the job functions into the local
    artifact store of ``data_dir``, and stored in SQLite; returns the stored
    :class:`Production`.
    """
    from chefs import all_chefs, load_genres
    from core.brain import Aspect, Domain, Feedback
    from core.brief import Brief, Param, Provenance, Workflow
    from core.jobs import JobKind, JobRequest
    from core.music import parse_key
    from core.patch import apply_patch
    from core.planner import base_spec
    from core.store import SqliteStore
    from jobs.export import export_task
    from jobs.files import JobFiles
    from jobs.render import render_task

    genre = next(g for g in load_genres() if g.id == "house")
    chefs = {chef.domain: chef for chef in all_chefs()}
    user = Provenance.USER
    brief = Brief(workflow=Param(value=Workflow.TEXT_TO_TRACK, source=user),
                  genre=Param(value="house", source=user),
                  key=Param(value=parse_key("Am"), source=user), bpm=Param(value=124.0, source=user))
    spec = base_spec(production_id=production_id, brief=brief, genre=genre, source_key=None,
                     source_tempo_bpm=None, stems={}, reference=None)
    for chef in chefs.values():
        patch = chef.plan(brief=brief, spec=spec, genre=genre)
        if patch is not None:
            spec = apply_patch(spec, patch)
    drop = next(s for s in spec.sections if "bass" in s.layers and "music" in s.layers)
    spec = spec.model_copy(update={"title": TITLE,
                                   "sections": [drop.model_copy(update={"bars": 8})]})
    files = JobFiles.local(data_dir)

    def render(version_spec: Any, number: int) -> dict[str, Any]:
        request = JobRequest(job_id=f"render-v{number}", production_id=production_id,
                             kind=JobKind.RENDER, version=number,
                             payload={"spec": version_spec.model_dump(mode="json")})
        result = render_task(request, lambda fraction, step: None, files).model_dump(mode="json")
        result["measurements"]["mismatches"] = result["mismatches"]
        return result

    first = render(spec, 1)
    # "Bass too loud, and the master louder": one turn, two Chefs, one version
    bass = chefs[Domain.MIXING].consult(
        spec=spec, request=Feedback(domain=Domain.MIXING, aspect=Aspect.LEVEL, target="bass",
                                    direction="down", text="Bass too loud"),
        measurements=first["measurements"], genre=genre)
    louder = chefs[Domain.MASTERING].consult(
        spec=spec, request=Feedback(domain=Domain.MASTERING, aspect=Aspect.LOUDNESS,
                                    target="master", direction="up", text="and the master louder"),
        measurements=first["measurements"], genre=genre)
    patch = bass.model_copy(update={"ops": [*bass.ops, *louder.ops],
                                    "rationale": f"{bass.rationale} {louder.rationale}",
                                    "expected": [*bass.expected, *louder.expected]})
    spec2 = apply_patch(spec, patch)
    second = render(spec2, 2)
    exported = export_task(JobRequest(job_id="export-v2", production_id=production_id,
                                      kind=JobKind.EXPORT, version=2,
                                      payload={"spec": spec2.model_dump(mode="json"),
                                               "rendered": second["artifacts"]}),
                           lambda fraction, step: None, files)
    production = Production(id=production_id, owner="U0DIRECTOR", current=2, versions=[
        Version(number=1, spec=spec, rendered=True, artifacts=first["artifacts"],
                measurements=first["measurements"]),
        Version(number=2, spec=spec2, parent=1, patch=patch, rendered=True,
                artifacts={**second["artifacts"], **exported.artifacts},
                measurements=second["measurements"])])

    async def put() -> None:
        store = await SqliteStore(data_dir / "vyke.sqlite").open()
        try:
            await store.put(production)
        finally:
            await store.close()

    asyncio.run(put())
    return production


def web_settings(data_dir: Path, **extra: Any) -> Settings:
    """Settings for a web process on a loopback port, Slack off unless ``extra`` turns it on."""
    values: dict[str, Any] = {"data_dir": data_dir, "link_secret": SECRET,
                              "public_url": "https://vyke.example", "web_host": "127.0.0.1",
                              "slack_bot_token": None, "slack_app_token": None,
                              "slack_signing_secret": None, "redis_url": None,
                              "anthropic_api_key": None, **extra}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# --- fixtures -----------------------------------------------------------------------------


def shared_production(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Production]:
    """The data folder and production of :func:`render_production`, rendered once per session
    for this module and the browser test (``tests/conftest.py``'s :func:`made_once`)."""

    def make(folder: Path) -> None:
        production = render_production(folder / "data")
        (folder / "production.json").write_text(production.model_dump_json(), encoding="utf-8")

    folder = made_once(tmp_path_factory, "web-production", make)
    production = Production.model_validate_json((folder / "production.json").read_text("utf-8"))
    return folder / "data", production


@pytest.fixture(scope="module")
def web_production(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Production]:
    return shared_production(tmp_path_factory)


# The production page's fixtures, shared with tests/browser/test_page.py, which imports them.
# Each module brings its own ``web_production``: the browser's renders only where Chromium is.


@pytest.fixture(scope="module", name="data_dir")
def data_dir_fixture(web_production: tuple[Path, Production]) -> Path:
    return web_production[0]


@pytest.fixture(scope="module", name="production")
def production_fixture(web_production: tuple[Path, Production]) -> Production:
    return web_production[1]


@pytest_asyncio.fixture(loop_scope="module", scope="module", name="server")
async def server_fixture(data_dir: Path, production: Production) -> AsyncIterator[WebServer]:
    """A web process over the rendered production's data folder, on a loopback port."""
    async with open_web(web_settings(data_dir), port=0) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def local_url(url: str, server: WebServer) -> str:
    """A signed public URL, fetched from the test server (as a TLS proxy would pass it on)."""
    return server.url + url.removeprefix("https://vyke.example")


def _file_link(key: str, name: str, *, ttl_s: float = 600, now: float | None = None) -> str:
    return links.sign(links.artifact_path(key, name), secret=SECRET, ttl_s=ttl_s,
                      base_url="https://vyke.example", now=now)


def _stored(data_dir: Path, key: str) -> bytes:
    return LocalArtifactStore(data_dir).fetch(key).read_bytes()


def _page_link(number: int, *, ttl_s: float = 600, now: float | None = None,
               production_id: str = PRODUCTION_ID) -> str:
    return links.sign_page(production_id, number, secret=SECRET, ttl_s=ttl_s,
                           base_url="https://vyke.example", now=now)


# --- downloads ----------------------------------------------------------------------------


async def test_a_signed_link_downloads_the_file(server: WebServer, http: aiohttp.ClientSession,
                                                production: Production, data_dir: Path) -> None:
    key = production.versions[1].artifacts["project.zip"]
    async with http.get(local_url(_file_link(key, "Night v2 Project.zip"), server)) as response:
        assert response.status == 200
        body = await response.read()
        assert response.headers["Content-Disposition"] == (
            'attachment; filename="Night v2 Project.zip"')  # named, not by its hash
        assert response.headers["Accept-Ranges"] == "bytes"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert hashlib.sha256(body).digest() == hashlib.sha256(_stored(data_dir, key)).digest()


async def test_range_requests_let_the_player_seek(server: WebServer, http: aiohttp.ClientSession,
                                                  production: Production, data_dir: Path) -> None:
    master = production.versions[1].master_key
    assert master is not None and master.endswith(".flac")
    data = _stored(data_dir, master)
    url = local_url(_file_link(master, "master.flac"), server)
    middle = len(data) // 2
    async with http.get(url, headers={"Range": f"bytes={middle}-{middle + 999}"}) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes {middle}-{middle + 999}/{len(data)}"
        assert await response.read() == data[middle:middle + 1000]
        assert response.headers["Content-Disposition"].startswith("inline;")  # plays in place
    async with http.get(url, headers={"Range": "bytes=-44"}) as response:  # the last 44 bytes
        assert response.status == 206 and await response.read() == data[-44:]
    async with http.get(url, headers={"Range": f"bytes={len(data) + 10}-"}) as response:
        assert response.status == 416


async def test_the_master_downloads_as_the_wav_it_losslessly_is(
        server: WebServer, http: aiohttp.ClientSession, production: Production,
        data_dir: Path) -> None:
    """The store keeps a version's master as 24-bit FLAC; its download is the 24-bit WAV with
    every sample the same, decoded as it is sent."""
    import io

    import numpy as np
    import soundfile as sf

    master = production.versions[1].master_key
    assert master is not None
    stored, rate = sf.read(LocalArtifactStore(data_dir).fetch(master), dtype="int32")
    async with http.get(local_url(_file_link(master, "Night v2 master.wav"), server)) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "audio/wav"
        assert response.headers["Content-Disposition"] == 'inline; filename="Night v2 master.wav"'
        body = await response.read()
        assert int(response.headers["Content-Length"]) == len(body)
    info = sf.info(io.BytesIO(body))
    assert (info.format, info.subtype, info.samplerate) == ("WAV", "PCM_24", rate)
    heard, _ = sf.read(io.BytesIO(body), dtype="int32")
    assert np.array_equal(heard, stored)


@pytest.mark.parametrize("tamper", ["path", "expires", "signature", "missing", "expired",
                                    "other secret", "page signature"])
async def test_an_edited_or_expired_link_gets_403_and_learns_nothing(
        tamper: str, server: WebServer, http: aiohttp.ClientSession, production: Production,
        data_dir: Path) -> None:
    key = production.versions[1].artifacts["project.zip"]
    url = _file_link(key, "v2 project.zip")
    path, expires, signature = links.parse(url)
    if tamper == "path":  # another of the production's files, with this file's signature
        url = url.replace(key, production.versions[1].master_key or "")
    elif tamper == "expires":
        url = url.replace(f"expires={expires}", f"expires={expires + 86400}")
    elif tamper == "signature":
        url = url.replace(signature, signature[::-1])
    elif tamper == "missing":
        url = url.split("?")[0]
    elif tamper == "expired":
        url = _file_link(key, "v2 project.zip", ttl_s=60, now=time.time() - 61)
    elif tamper == "other secret":
        url = links.sign(path, secret="another-installation", ttl_s=60,
                         base_url="https://vyke.example")
    else:  # a page's genuine signature, pasted onto a file path
        _, _, page_expires, page_sig = links.parse_page(_page_link(2))
        url = url.split("?")[0] + f"?expires={page_expires}&sig={page_sig}"
    async with http.get(local_url(url, server)) as response:
        assert response.status == 403
        text = await response.text()
    async with http.get(server.url + "/files/no/such/file.zip?expires=1&sig=00") as nothing:
        assert nothing.status == 403
        assert await nothing.text() == text  # the same page whatever the link pointed to
    assert "expired or is not valid" in text
    for secret_fact in ("project", "zip", "v2", "Night", PRODUCTION_ID, str(data_dir)):
        assert secret_fact not in text


async def test_a_signed_link_never_leaves_the_data_directory(
        server: WebServer, http: aiohttp.ClientSession, data_dir: Path,
        tmp_path: Path) -> None:
    outside = tmp_path / "secrets.env"
    outside.write_text("TOKEN=xoxb-private")
    (data_dir / "innocent.txt").symlink_to(outside)  # a link planted inside the data folder
    url = links.sign("innocent.txt", secret=SECRET, ttl_s=60, base_url="https://vyke.example")
    async with http.get(local_url(url, server)) as response:
        assert response.status == 404
        assert "xoxb" not in await response.text()
    # an encoded ../ is refused by the signature check before any file is looked at
    async with http.get(server.url + "/files/%2E%2E/secrets.env?expires=9999999999&sig=00") as r:
        assert r.status in (403, 404)
        assert "xoxb" not in await r.text()


# --- the production page ------------------------------------------------------------------


async def test_the_page_shows_the_version_with_its_numbers_players_card_and_downloads(
        server: WebServer, http: aiohttp.ClientSession, production: Production) -> None:
    async with http.get(local_url(_page_link(2), server)) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "script-src 'sha256-" in response.headers["Content-Security-Policy"]
        html = await response.text()
    v1, v2 = production.versions
    m = v2.measurements
    assert "Night &lt;Drive&gt; &amp; &#34;Friends&#34;" in html and "<Drive>" not in html
    assert f"{m['tempo_bpm']:.1f} BPM" in html and f">{m['key']}<" in html
    assert f"{m['integrated_lufs']:.1f} LUFS integrated" in html
    assert "/arrangement.png?" in html
    players = re.findall(r'<audio[^>]*data-version="(\d)"[^>]*data-gain-db="([-0-9.]+)"', html)
    assert [p[0] for p in players] == ["2", "1"]  # this version first, then the earlier one
    sources = re.findall(r'<audio[^>]*src="([^"]+)"', html)
    assert len(sources) == 2 and all("preview.mp3" in s for s in sources)  # not the big WAV
    gains = loudness_gains_db([v2.measurements["integrated_lufs"], v1.measurements["integrated_lufs"]])
    assert [float(p[1]) for p in players] == pytest.approx(gains, abs=0.01)
    assert gains[1] == 0.0 and gains[0] < -1.0  # v2 is louder: it plays turned down
    assert "Change card, v1 → v2" in html
    card = re.search(r'<table class="card">(.*?)</table>', html, re.S)
    assert card is not None and "bass" in card.group(1).lower() and " dB" in card.group(1)
    assert "LUFS" in card.group(1)
    downloads = set(re.findall(r'data-artifact="([^"]+)"', html))
    assert {"project.zip", "master.wav", "preview.mp3", "stem"} <= downloads


async def test_every_link_on_the_page_works_and_expires_with_the_page(
        server: WebServer, http: aiohttp.ClientSession) -> None:
    page_url = _page_link(2, ttl_s=300)
    page_expires = links.parse_page(page_url)[2]
    async with http.get(local_url(page_url, server)) as response:
        html = await response.text()
    hrefs = [h.replace("&amp;", "&") for h in re.findall(r'(?:href|src)="(/files/[^"]+)"', html)]
    assert len(hrefs) >= 6  # picture, two players, three downloads, stems
    for href in hrefs:
        assert links.parse(href)[1] == page_expires
        async with http.head(server.url + href) as head:
            assert head.status == 200, href


@pytest.mark.parametrize("tamper", ["version", "production", "expired", "unsigned"])
async def test_a_page_is_reached_only_through_its_signed_link(
        tamper: str, server: WebServer, http: aiohttp.ClientSession) -> None:
    url = _page_link(2)
    if tamper == "version":
        url = url.replace("/v2?", "/v1?")
    elif tamper == "production":
        url = url.replace("C0MUSIC", "C0OTHER")
    elif tamper == "expired":
        url = _page_link(2, ttl_s=1, now=time.time() - 2)
    else:
        url = url.split("?")[0]
    async with http.get(local_url(url, server)) as response:
        assert response.status == 403
        text = await response.text()
    assert "Night" not in text and "LUFS" not in text


async def test_a_genuine_link_to_a_removed_production_says_it_is_gone(
        server: WebServer, http: aiohttp.ClientSession) -> None:
    async with http.get(local_url(_page_link(1, production_id="slack:T0:C0:gone"), server)) as r:
        assert r.status == 404
        assert "no longer here" in await r.text()


async def test_players_match_the_quietest_version() -> None:
    assert loudness_gains_db([-9.0, -10.5, -9.6]) == [-1.5, 0.0, -0.9]
    assert loudness_gains_db([-9.0, None]) == [0.0, 0.0]
    assert loudness_gains_db([]) == []


# --- Slack's HTTP mode ----------------------------------------------------------------------


async def test_slack_http_mode_is_served_by_the_web_process(tmp_path: Path) -> None:
    from slack_sdk.signature import SignatureVerifier
    from slack_sdk.web.async_client import AsyncWebClient

    from tests.fakes.slack_api import FakeSlackAPI

    signing = "8f742231b10e8888abcd99yyyzzz85a5"
    settings = web_settings(tmp_path / "data", slack_bot_token="xoxb-vyke-test",
                            slack_signing_secret=signing)
    body = '{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}'
    async with FakeSlackAPI() as fake, aiohttp.ClientSession() as session:
        client = AsyncWebClient(token="xoxb-vyke-test", base_url=fake.api_url)
        async with open_web(settings, slack_client=client, port=0) as server:
            assert server.slack is not None
            timestamp = str(int(time.time()))
            headers = {"content-type": "application/json", "x-slack-request-timestamp": timestamp,
                       "x-slack-signature": SignatureVerifier(signing).generate_signature(
                           timestamp=timestamp, body=body)}
            async with session.post(server.url + "/slack/events", data=body,
                                    headers=headers) as signed:
                assert signed.status == 200
                assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in await signed.text()
            headers["x-slack-signature"] = "v0=" + "0" * 64
            async with session.post(server.url + "/slack/events", data=body,
                                    headers=headers) as forged:
                assert forged.status == 401


async def test_without_slack_http_mode_there_is_no_slack_route(server: WebServer,
                                                               http: aiohttp.ClientSession) -> None:
    assert server.slack is None
    async with http.post(server.url + "/slack/events", data="{}") as response:
        assert response.status in (404, 405)


# --- the memory bound -----------------------------------------------------------------------


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc")
@pytest.mark.parametrize("sendfile", [True, False], ids=["sendfile", "chunked"])
async def test_a_100_mb_download_is_streamed_not_held_in_memory(sendfile: bool,
                                                                tmp_path: Path) -> None:
    """`vyke web` in its own process: its peak RSS grows far less than the file it serves."""
    data_dir = tmp_path / "data"
    big = tmp_path / "export" / "Big Project.zip"
    big.parent.mkdir(parents=True)
    digest = hashlib.sha256()
    with big.open("wb") as out:
        for i in range(100):
            block = hashlib.sha256(str(i).encode()).digest() * 32768  # 1 MiB, distinct per block
            digest.update(block)
            out.write(block)
    size = big.stat().st_size
    assert size == 100 * 1024 * 1024
    key = LocalArtifactStore(data_dir).put_file("p", "v1/project.zip", big).key
    port = _free_port()
    env = {**os.environ, "VYKE_DATA_DIR": str(data_dir), "VYKE_LINK_SECRET": SECRET,
           "VYKE_WEB_PORT": str(port), "VYKE_WEB_HOST": "127.0.0.1", "VYKE_LOG_LEVEL": "INFO"}
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "REDIS_URL"):
        env.pop(name, None)
    if not sendfile:
        env["AIOHTTP_NOSENDFILE"] = "1"  # as behind TLS: read and written in chunks
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "web", cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stderr is not None
        async with asyncio.timeout(30):  # wait for the "serving" log line, not a fixed sleep
            while b"serving signed links" not in (line := await process.stderr.readline()):
                assert line, "vyke web exited before serving"
        before_kib = _peak_rss_kib(process.pid)
        url = links.sign(links.artifact_path(key, big.name), secret=SECRET, ttl_s=60,
                         base_url=f"http://127.0.0.1:{port}")
        received = hashlib.sha256()
        count = 0
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            async for chunk in response.content.iter_chunked(1 << 20):
                received.update(chunk)
                count += len(chunk)
        after_kib = _peak_rss_kib(process.pid)
    finally:
        process.terminate()
        await process.wait()
    assert count == size and received.digest() == digest.digest()
    growth_mib = (after_kib - before_kib) / 1024
    print(f"peak RSS {before_kib / 1024:.1f} -> {after_kib / 1024:.1f} MiB "
          f"(+{growth_mib:.1f} MiB) serving {size / 2**20:.0f} MiB, sendfile={sendfile}")
    assert growth_mib < 20, growth_mib  # a held copy would add 100 MiB
    assert process.returncode == 0  # SIGTERM is a clean stop


def _listening_on_all_interfaces(port: int) -> bool:
    """Whether some socket listens on 0.0.0.0:``port`` (read from /proc/net/tcp, no traffic)."""
    wanted = f"00000000:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(row.split()[1] == wanted and row.split()[3] == "0A" for row in rows)  # 0A: LISTEN


async def test_on_a_procfile_platform_vyke_web_listens_on_port_on_every_interface(
        tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "VYKE_DATA_DIR": str(tmp_path), "VYKE_LINK_SECRET": SECRET,
           "PORT": str(port), "VYKE_LOG_LEVEL": "INFO"}
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "REDIS_URL",
                 "VYKE_WEB_HOST", "VYKE_WEB_PORT"):
        env.pop(name, None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "web", cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stderr is not None
        async with asyncio.timeout(30):
            while b"serving signed links" not in (line := await process.stderr.readline()):
                assert line, "vyke web exited before serving"
        assert _listening_on_all_interfaces(port)
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/files/x?expires=1&sig=0") as response:
            assert response.status == 403  # it answers, and an unsigned request learns nothing
    finally:
        process.terminate()
        await process.wait()
