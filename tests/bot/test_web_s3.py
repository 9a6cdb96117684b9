"""``vyke web`` over an S3 store (SeaweedFS on loopback): a signed link streams the object
through the web process with byte ranges, as from the local folder; with a public-facing
store the links it makes go straight to the store, presigned."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import soundfile as sf
from aiohttp.test_utils import TestClient, TestServer

from bot import links
from bot.app import link_maker
from bot.settings import Settings
from bot.web import web_app
from core.artifacts import open_artifact_store
from core.conversation import Attachment
from core.store import SqliteStore
from tests.services import SeaweedS3

SECRET = "web-s3-secret"


def _settings(tmp_path: Path, seaweed: SeaweedS3, **extra: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "web", link_secret=SECRET,  # type: ignore[call-arg]
                    s3_bucket=seaweed.BUCKET, s3_endpoint=seaweed.endpoint,
                    s3_access_key=seaweed.ACCESS_KEY, s3_secret_key=seaweed.SECRET_KEY,
                    public_url="https://vyke.example", **extra)



def _link(key: str, name: str) -> str:
    """The web process's signed path for an artifact, valid for a minute."""
    return links.sign(links.artifact_path(key, name), secret=SECRET, ttl_s=60, base_url="")

async def test_a_signed_link_streams_an_s3_object_with_ranges(tmp_path: Path,
                                                              seaweed: SeaweedS3) -> None:
    settings = _settings(tmp_path, seaweed)
    worker = settings.store_config().model_copy(update={"cache_dir": str(tmp_path / "worker")})
    data = bytes(range(256)) * 12_000  # 3 MB: several chunks
    key = open_artifact_store(worker).put_bytes("p", "v1/master.wav", data).key  # elsewhere
    sqlite = await SqliteStore(tmp_path / "v.sqlite").open()
    client = TestClient(TestServer(web_app(settings=settings, store=sqlite)))
    await client.start_server()
    try:
        url = _link(key, "Song v1 master.wav")
        whole = await client.get(url)
        assert whole.status == 200 and await whole.read() == data
        assert whole.headers["Content-Disposition"] == 'inline; filename="Song v1 master.wav"'
        part = await client.get(url, headers={"Range": "bytes=1000-2999"})
        assert part.status == 206 and await part.read() == data[1000:3000]
        assert part.headers["Content-Range"] == f"bytes 1000-2999/{len(data)}"
        tail = await client.get(url, headers={"Range": "bytes=-10"})
        assert tail.status == 206 and await tail.read() == data[-10:]
        beyond = await client.get(url, headers={"Range": f"bytes={len(data) + 5}-"})
        assert beyond.status == 416
        assert not (tmp_path / "web" / "cache").exists()  # streamed, no copy kept
        forged = await client.get(url.replace(key, key[:-5] + "0.wav"))
        assert forged.status == 403
    finally:
        await client.close()
        await sqlite.close()


def _flac(tmp_path: Path) -> tuple[bytes, np.ndarray]:
    """A second of 24-bit stereo FLAC (a master, as the render stores it) and its samples."""
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal((44100, 2)) * 0.1).astype(np.float32)
    path = tmp_path / "master.flac"
    sf.write(str(path), audio, 44100, subtype="PCM_24", format="FLAC")
    samples, _ = sf.read(str(path), dtype="int32")
    return path.read_bytes(), samples


async def test_a_master_in_s3_downloads_as_a_wav_and_leaves_no_copy(
        tmp_path: Path, seaweed: SeaweedS3) -> None:
    settings = _settings(tmp_path, seaweed)
    worker = settings.store_config().model_copy(update={"cache_dir": str(tmp_path / "worker")})
    flac, samples = _flac(tmp_path)
    key = open_artifact_store(worker).put_bytes("p", "v1/master.flac", flac).key
    sqlite = await SqliteStore(tmp_path / "v.sqlite").open()
    client = TestClient(TestServer(web_app(settings=settings, store=sqlite)))
    await client.start_server()
    try:
        response = await client.get(_link(key, "Song v1 master.wav"))
        assert response.status == 200 and response.headers["Content-Type"] == "audio/wav"
        heard, rate = sf.read(io.BytesIO(await response.read()), dtype="int32")
        assert rate == 44100 and np.array_equal(heard, samples)
        assert not (tmp_path / "web" / "cache").exists()  # decoded from a passing copy
    finally:
        await client.close()
        await sqlite.close()


async def test_a_public_store_gets_presigned_links(tmp_path: Path, seaweed: SeaweedS3) -> None:
    settings = _settings(tmp_path, seaweed, s3_public=True)
    store = open_artifact_store(settings.store_config())
    key = store.put_bytes("p", "project.zip", b"PK\x05\x06" + bytes(18)).key
    link_for = link_maker(settings, store)
    assert link_for is not None
    url = link_for(Attachment(name="Song Project.zip", key=key))
    assert url.startswith(seaweed.endpoint) and "X-Amz-Signature=" in url
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200 and await response.read() == b"PK\x05\x06" + bytes(18)


async def test_a_public_store_s_page_loads_its_players_from_the_store(
        tmp_path: Path, seaweed: SeaweedS3) -> None:
    """The page's players and picture come from the store's address, which its
    Content-Security-Policy allows (and nothing else)."""
    from core.music import parse_key
    from core.production import Production, Version
    from core.spec import ProductionSpec

    settings = _settings(tmp_path, seaweed, s3_public=True)
    store = open_artifact_store(settings.store_config())
    preview = store.put_bytes("local:p", "v1/preview.mp3", b"\xff\xfb" * 64).key
    master = store.put_bytes("local:p", "v1/master.flac", _flac(tmp_path)[0]).key
    spec = ProductionSpec(title="Song", genre="house", tempo_bpm=124, key=parse_key("Am"))
    sqlite = await SqliteStore(tmp_path / "v.sqlite").open()
    await sqlite.put(Production(id="local:p", versions=[Version(
        number=1, spec=spec, rendered=True,
        artifacts={"preview.mp3": preview, "master.flac": master})]))
    client = TestClient(TestServer(web_app(settings=settings, store=sqlite, artifacts=store)))
    await client.start_server()
    try:
        page = links.sign_page("local:p", 1, secret=SECRET, ttl_s=60, base_url="")
        response = await client.get(page)
        html = await response.text()
        assert response.status == 200
        assert f'src="{seaweed.endpoint}/' in html  # the player streams from the store
        # the master downloads as a WAV, which this process decodes: a link to it, not the store
        (wav,) = re.findall(r'href="([^"]+)"[^>]*data-artifact="master.wav"', html)
        assert wav.startswith(links.LINK_PREFIX) and wav.split("?")[0].endswith(".wav")
        policy = response.headers["Content-Security-Policy"]
        assert f"media-src 'self' {seaweed.endpoint}" in policy
        assert "default-src 'none'" in policy
    finally:
        await client.close()
        await sqlite.close()
