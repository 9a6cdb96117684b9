"""``vyke web``: signed downloads and the production page, and Slack's HTTP mode.

Everything here is reached through a link signed by :mod:`bot.links`, naming a stored file by
its artifact key. Files are streamed from the artifact store with HTTP Range support, so a
browser's audio player can seek and a 1 GB project never sits in memory: from disk for the
local store (``sendfile`` where the OS has it, else in 256 KiB chunks), through this process
in 1 MiB chunks for an S3 store (the web process keeps no copy), or, when the S3 store is
public-facing (``VYKE_S3_PUBLIC``), straight from the store by presigned URLs.
A production page shows one version: its numbers, the arrangement picture, a player for
its master and for each earlier version's, loudness-matched, the change card and the
downloads. A master is stored as 24-bit FLAC and downloads as the 24-bit WAV it losslessly
is, decoded by this process as it is sent (such a link is never presigned). A link that was
edited or has expired gets one 403 page that says nothing about what it pointed to.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import math
import mimetypes
import struct
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from bot import links
from bot.settings import Settings
from bot.signals import stop_event
from core.artifacts import ArtifactStore, is_key, key_for, open_artifact_store
from core.change_card import CardLine, card_lines
from core.production import Production, Version
from core.store import Store

__all__ = ["WebServer", "loudness_gains_db", "open_web", "run_web", "slack_http_mode", "web_app"]

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 256 * 1024
"""Read size when ``sendfile`` is unavailable: the most of a file held in memory at once."""

_DOWNLOADS = (("project.zip", "Ableton Live project (Live 11+), DAWproject, MIDI and stems"),
              ("master.wav", "Master, full length (WAV, 24-bit)"),
              ("preview.mp3", "Preview (MP3)"))

_SCRIPT = ("for(const a of document.querySelectorAll('audio[data-gain-db]'))"
           "{a.volume=Math.min(1,Math.pow(10,parseFloat(a.dataset.gainDb)/20));}")
"""Sets each player's volume to its loudness-matching gain (the only script on the page)."""

_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()

_CSP = ("default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{_SCRIPT_HASH}'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'")

_PAGE_HEADERS = {"Content-Security-Policy": _CSP, "Referrer-Policy": "no-referrer",
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
"""Signed URLs are secrets: never sent as a referrer, never cached by a shared proxy."""

_CSS = """
body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
color:#1d1d1f;background:#fafafa}
h1{margin:.2rem 0}h2{margin-top:2rem;font-size:1.15rem}
.facts{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;padding:0;list-style:none}
.facts li{background:#fff;border:1px solid #ddd;border-radius:.4rem;padding:.3rem .7rem}
.facts b{display:block;font-size:.75rem;color:#666;font-weight:normal}
img{max-width:100%;border:1px solid #ddd;border-radius:.4rem;background:#fff}
audio{width:100%}.player{margin:.6rem 0}.player small{color:#666}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;
border-bottom:1px solid #e5e5e5}.met{color:#137333}.missed{color:#b3261e}
.downloads a{display:inline-block;margin:.3rem .5rem .3rem 0;padding:.5rem .9rem;
border-radius:.4rem;background:#1d1d1f;color:#fff;text-decoration:none}
.downloads a.stem{background:#555;font-size:.85rem}.warn{color:#b3261e}
"""

# --- loudness matching -----------------------------------------------------------------


def loudness_gains_db(lufs: Sequence[float | None]) -> list[float]:
    """Gain (dB, ≤ 0) per player so every version plays at the quietest one's loudness.

    A version without a measured integrated loudness plays at 0 dB. The page applies each
    gain as the player's volume, ``10 ** (gain_db / 20)``, so comparing versions compares
    their sound and not their level.
    """
    known = [v for v in lufs if v is not None and math.isfinite(v)]
    if not known:
        return [0.0 for _ in lufs]
    quietest = min(known)
    return [round(quietest - v, 2) if v is not None and math.isfinite(v) else 0.0 for v in lufs]


# --- the application -------------------------------------------------------------------


_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("bot", "templates"), autoescape=True,
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
"""The page's HTML: Jinja2 with autoescaping, so no title, file name or prompt can inject
markup; a missing value is an error, not an empty string."""


def _html(template: str, **values: Any) -> str:
    return _TEMPLATES.get_template(template).render(css=_CSS, script=_SCRIPT, **values)


def _denied() -> web.Response:
    return web.Response(status=403, text=_html("denied.html"), content_type="text/html",
                        headers=_PAGE_HEADERS)


def _gone() -> web.Response:
    return web.Response(status=404, text=_html("gone.html"), content_type="text/html",
                        headers=_PAGE_HEADERS)


def _signature(request: web.Request) -> tuple[int, str] | None:
    try:
        return int(request.query["expires"]), request.query["sig"]
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class _Config:
    artifacts: ArtifactStore
    secret: str
    base_path: str  #: the public URL's own path ("/vyke" behind a proxy), for links on pages
    presign: bool = False  #: links on pages go straight to a public-facing S3 store
    page_headers: tuple[tuple[str, str], ...] = tuple(_PAGE_HEADERS.items())


def web_app(*, settings: Settings, store: Store, artifacts: ArtifactStore | None = None,
            extra_routes: Sequence[web.RouteDef] = ()) -> web.Application:
    """The aiohttp application: ``/files/…``, ``/p/…`` and any ``extra_routes`` (Slack's)."""
    stored = artifacts or open_artifact_store(settings.store_config())
    # without a secret no link verifies (every file and page is refused); the process still
    # answers, so a platform's health check passes while the operator sets the secret
    secret = settings.link_secret.get_secret_value() if settings.link_secret else ""
    presign = settings.s3_public and hasattr(stored, "presign")
    headers = dict(_PAGE_HEADERS)
    if presign:  # the page's pictures and players then load from the store's own address
        parts = urlsplit(stored.presign(key_for("0" * 64), expires_s=60))  # type: ignore[attr-defined]
        store_origin = f"{parts.scheme}://{parts.netloc}"
        headers["Content-Security-Policy"] = _CSP.replace(
            "img-src 'self'", f"img-src 'self' {store_origin}").replace(
            "media-src 'self'", f"media-src 'self' {store_origin}")
    config = _Config(artifacts=stored, secret=secret,
                     base_path=urlsplit(settings.public_url).path.rstrip("/"),
                     presign=presign, page_headers=tuple(headers.items()))

    async def file(request: web.Request) -> web.StreamResponse:
        signed = _signature(request)
        path = request.match_info["path"]
        if signed is None or not links.verify(path, expires=signed[0], signature=signed[1],
                                              secret=config.secret):
            return _denied()
        named = links.split_artifact_path(path)
        if named is None or not is_key(named[0]):
            return _gone()
        key, name = named
        playable = (".wav", ".flac", ".mp3", ".png")
        disposition = "inline" if Path(name).suffix in playable else "attachment"
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "'")
        headers = {"Content-Disposition": f'{disposition}; filename="{ascii_name}"',
                   "Cache-Control": f"private, max-age={max(0, signed[0] - int(time.time()))}",
                   "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
        if _as_wav(key, name):
            return await _flac_as_wav(request, config.artifacts, key, headers)
        streamed = getattr(config.artifacts, "stream", None)
        if streamed is None:  # the local store: the file itself, with sendfile and ranges
            try:
                target = config.artifacts.fetch(key)
            except FileNotFoundError:
                return _gone()
            return web.FileResponse(target, chunk_size=_CHUNK_BYTES, headers=headers)
        return await _stream_object(request, config.artifacts, key, name, headers)

    async def page(request: web.Request) -> web.Response:
        signed = _signature(request)
        production_id = request.match_info["production"]
        try:
            number = int(request.match_info["version"])
        except ValueError:
            return _denied()
        if signed is None or not links.verify_page(production_id, number, expires=signed[0],
                                                   signature=signed[1], secret=config.secret):
            return _denied()
        production = await store.get(production_id)
        version = production.version(number) if production is not None else None
        if production is None or version is None:
            return _gone()
        html = _page_html(production, version, config=config, expires=signed[0])
        return web.Response(text=html, content_type="text/html",
                            headers=dict(config.page_headers))

    async def alive(request: web.Request) -> web.Response:
        return web.Response(text="vyke web is running\n" if config.secret else
                            "vyke web is running; links are off until VYKE_LINK_SECRET is set\n",
                            headers={"Cache-Control": "no-store"})

    app = web.Application()
    app.add_routes([web.get("/", alive),
                    web.get(links.LINK_PREFIX + "{path:.+}", file),
                    web.get(links.PAGE_PREFIX + "{production}/v{version}", page),
                    *extra_routes])
    return app


# --- the page --------------------------------------------------------------------------


async def _stream_object(request: web.Request, artifacts: Any, key: str, name: str,
                         headers: dict[str, str]) -> web.StreamResponse:
    """An object of the S3 store passed through in chunks, honouring one byte range."""
    try:
        size = int(await artifacts.size_async(key))
    except FileNotFoundError:
        return _gone()
    try:
        wanted = request.http_range
    except ValueError:
        wanted = slice(None, None)
    start, stop = wanted.start, wanted.stop
    if start is not None and start < 0:  # "bytes=-N": the last N bytes
        start, stop = max(0, size + start), size
    start, stop = start or 0, min(size, stop if stop is not None else size)
    partial = (wanted.start, wanted.stop) != (None, None)
    if partial and start >= stop:
        return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
    response = web.StreamResponse(status=206 if partial else 200, headers={
        **headers, "Accept-Ranges": "bytes",
        "Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream"})
    if partial:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    response.content_length = stop - start
    await response.prepare(request)
    async for chunk in artifacts.stream(key, start=start, end=stop):
        await response.write(chunk)
    await response.write_eof()
    return response


_WAV_BLOCK_FRAMES = 1 << 16
"""Frames decoded per write when a FLAC goes out as WAV (384 KiB of 24-bit stereo)."""


def _as_wav(key: str, name: str) -> bool:
    """Whether a link asks for a stored FLAC (a master) as a WAV."""
    return Path(key).suffix.lower() == ".flac" and Path(name).suffix.lower() == ".wav"


def _wav_header(*, channels: int, sample_rate: int, data_bytes: int) -> bytes:
    """The 44-byte header of a 24-bit PCM WAV holding ``data_bytes`` of samples."""
    block = channels * 3
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1,
                       channels, sample_rate, sample_rate * block, block, 24, b"data",
                       data_bytes)


@asynccontextmanager
async def _readable(artifacts: Any, key: str) -> AsyncIterator[Path]:
    """A stored file on this host's disk while it is read: the local store's own file, or an
    S3 object streamed into a temporary file that goes afterwards (no copy is kept)."""
    if getattr(artifacts, "stream", None) is None:
        yield await asyncio.to_thread(artifacts.fetch, key)
        return
    with tempfile.TemporaryDirectory(prefix="vyke-web-") as tmp:
        path = Path(tmp) / Path(key).name
        with path.open("wb") as fh:
            async for chunk in artifacts.stream(key):
                await asyncio.to_thread(fh.write, chunk)
        yield path


async def _flac_as_wav(request: web.Request, artifacts: Any, key: str,
                       headers: dict[str, str]) -> web.StreamResponse:
    """A stored FLAC sent as the 24-bit WAV it losslessly is, decoded a block at a time as it
    goes (no range requests: a download, not a player's stream)."""
    try:
        async with _readable(artifacts, key) as path:
            return await _send_as_wav(request, path, headers)
    except FileNotFoundError:  # gone from the store (read before anything was sent)
        return _gone()


async def _send_as_wav(request: web.Request, path: Path,
                       headers: dict[str, str]) -> web.StreamResponse:
    import numpy as np
    import soundfile as sf

    try:
        sound = await asyncio.to_thread(sf.SoundFile, str(path))
    except RuntimeError:  # not a sound file after all
        return _gone()
    with sound:
        data_bytes = sound.frames * sound.channels * 3
        response = web.StreamResponse(status=200, headers={
            **headers, "Content-Type": "audio/wav", "Accept-Ranges": "none"})
        response.content_length = 44 + data_bytes
        await response.prepare(request)
        if request.method == "HEAD":  # the headers say all a HEAD asks
            await response.write_eof()
            return response
        await response.write(_wav_header(channels=sound.channels,
                                         sample_rate=sound.samplerate, data_bytes=data_bytes))
        while True:
            block = await asyncio.to_thread(sound.read, _WAV_BLOCK_FRAMES, dtype="int32")
            if not len(block):
                break
            # a sample's top 24 bits: bytes 1-3 of each little-endian int32
            as_bytes = np.ascontiguousarray(block, dtype="<i4").view(np.uint8).reshape(-1, 4)
            await response.write(as_bytes[:, 1:].tobytes())
        await response.write_eof()
    return response


def _file_url(key: str | None, name: str, config: _Config, expires: int) -> str | None:
    """A link to a stored file that dies with the page (``None`` for no file); one that asks
    for a FLAC as a WAV goes through this process, which converts it."""
    if not key or not is_key(key):
        return None
    if config.presign and not _as_wav(key, name):
        presign = config.artifacts.presign  # type: ignore[attr-defined]
        return str(presign(key, expires_s=max(1, expires - int(time.time()))))
    return links.sign(links.artifact_path(key, name), secret=config.secret, expires_at=expires,
                      base_url=config.base_path)


def _num(value: object, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "?"


def _card_row(line: CardLine) -> dict[str, str]:
    unit = f" {line.unit}" if line.unit else ""
    if line.detail:
        change = line.detail
    elif line.before is not None and line.after is not None:
        change = (f"{line.before:.1f} → {line.after:.1f}{unit} "
                  f"({line.after - line.before:+.1f}{unit})")
    else:
        change = ""
    verdict, css = {True: ("✓ on target", "met"), False: ("✗ missed", "missed"),
                    None: ("could not measure", "")}[line.met]
    return {"text": line.text, "change": change, "verdict": verdict, "css": css}


def _players(production: Production, version: Version, config: _Config,
             expires: int) -> list[dict[str, Any]]:
    """This version's master first, then every earlier rendered one's, loudness-matched.

    A player streams the MP3 preview (a few MB) rather than the WAV (tens of MB), which
    stays a download.
    """
    earlier = [v for v in production.versions if v.number < version.number]
    found: list[tuple[Version, str]] = []
    for v in [version, *reversed(earlier)]:
        url = (_file_url(v.artifacts.get("preview.mp3"), f"v{v.number} preview.mp3", config,
                         expires)
               or _file_url(v.master_key, f"v{v.number} master{Path(v.master_key or '').suffix}",
                            config, expires))
        if url:
            found.append((v, url))
    gains = loudness_gains_db([v.measurements.integrated_lufs for v, _ in found])
    return [{"number": v.number, "url": url, "gain_db": gain,
             "label": f"v{v.number} master" + (" (this version)" if v is version else ""),
             "lufs": _num(v.measurements.integrated_lufs),
             "lufs_exact": _num(v.measurements.integrated_lufs, 2),
             "matched": (f"played {gain:+.1f} dB to match the quietest version" if gain < 0
                         else "the quietest version, played as rendered")}
            for (v, url), gain in zip(found, gains, strict=True)]


def _card(production: Production, version: Version) -> dict[str, Any] | None:
    if version.patch is None:
        return None
    parent = production.version(version.parent) if version.parent else None
    rows = (card_lines(version.patch.expected, before=parent.measurements,
                       after=version.measurements)
            if parent is not None and parent.measurements else [])
    return {"parent": parent.number if parent else "?",
            "described": [str(d) for d in version.patch.describe()],
            "rationale": version.patch.rationale, "rows": [_card_row(r) for r in rows]}


def _downloads(version: Version, config: _Config, expires: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    title = version.spec.title or "Untitled"
    for name, label in _DOWNLOADS:
        named = "Project.zip" if name == "project.zip" else name  # as the export names it
        key = version.master_key if name == "master.wav" else version.artifacts.get(name)
        url = _file_url(key, f"{title} v{version.number} {named}", config, expires)
        if url:
            found.append({"url": url, "artifact": name, "label": label, "stem": False})
    for name, key in sorted(version.artifacts.items()):
        if not name.startswith("tracks/"):
            continue  # a track's FLAC (a float WAV past full scale), named by the render
        track = Path(name).stem
        url = _file_url(key, f"{title} v{version.number} {Path(name).name}", config, expires)
        if url:
            found.append({"url": url, "artifact": "stem", "label": f"Stem: {track}",
                          "stem": True})
    return found


def _page_html(production: Production, version: Version, *, config: _Config,
               expires: int) -> str:
    spec, m = version.spec, version.measurements
    page = {
        "title": spec.title or "Untitled",
        "number": version.number,
        "facts": [("Version", f"v{version.number} of {len(production.versions)}"),
                  ("Genre", spec.genre.replace("_", " ")),
                  ("Tempo", f"{_num(m.tempo_bpm)} BPM (planned {spec.tempo_bpm:g})"),
                  ("Key", str(m.key or spec.key)),
                  ("Loudness", f"{_num(m.integrated_lufs)} LUFS integrated"),
                  ("True peak", f"{_num(m.true_peak_dbtp)} dBTP")],
        "not_rendered": "" if version.rendered else (version.note or "still rendering"),
        "mismatches": [str(p) for p in m.mismatches],
        "picture": _file_url(version.artifacts.get("arrangement.png"), "arrangement.png", config,
                             expires),
        "tonal": _file_url(version.artifacts.get("tonal.png"), "tonal.png", config, expires),
        "players": _players(production, version, config, expires),
        "card": _card(production, version),
        "downloads": _downloads(version, config, expires),
        "expiry": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires)),
    }
    return _html("page.html", page=page)


# --- running it ------------------------------------------------------------------------


def slack_http_mode(settings: Settings) -> bool:
    """Whether Slack is configured for HTTP mode, which this process then serves."""
    return (settings.slack_bot_token is not None and settings.slack_signing_secret is not None
            and settings.slack_app_token is None)


@dataclass
class WebServer:
    """A running web process: where it listens, and the Slack adapter when it serves Slack."""

    url: str  #: the bound address, e.g. ``http://127.0.0.1:8080``
    slack: Any | None = None


@asynccontextmanager
async def open_web(settings: Settings, *, slack_client: Any | None = None,
                   port: int | None = None) -> AsyncIterator[WebServer]:
    """Serve until the block ends: the signed routes, plus Slack's when in HTTP mode.

    ``slack_client`` (an ``AsyncWebClient``) is for tests with a fake Slack Web API;
    ``port`` overrides ``VYKE_WEB_PORT`` (0 picks a free one).
    """
    async with AsyncExitStack() as stack:
        routes: list[web.RouteDef] = []
        slack = None
        if slack_http_mode(settings):
            from bot.app import build_app
            from bot.runtime import pump_events
            from bot.slack_bot import open_slack, slack_routes

            app = await stack.enter_async_context(build_app(settings, platforms=("slack",)))
            slack = await stack.enter_async_context(open_slack(app, client=slack_client))
            pump = asyncio.create_task(pump_events(app, slack.post), name="vyke-web-slack-events")
            stack.push_async_callback(_cancel, pump)
            routes = slack_routes(slack)
            store: Store = app.store
            artifacts = app.artifacts
        else:
            from bot.state import open_state

            store = (await stack.enter_async_context(open_state(settings))).store
            artifacts = open_artifact_store(settings.store_config())
        runner = web.AppRunner(web_app(settings=settings, store=store, artifacts=artifacts,
                                       extra_routes=routes), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, host=settings.web_host,
                           port=settings.web_port if port is None else port)
        await site.start()
        bound = runner.addresses[0]
        url = f"http://{settings.web_host}:{bound[1]}"
        logger.info("serving signed links at %s (public address %s)%s", url, settings.public_url,
                    "; Slack HTTP mode at /slack/events" if slack is not None else "")
        yield WebServer(url=url, slack=slack)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def run_web(settings: Settings) -> int:
    """Run ``vyke web`` until SIGINT or SIGTERM; returns the process exit status."""
    if settings.link_secret is None:
        print("vyke web: VYKE_LINK_SECRET is not set, so every download and page link is "
              "refused until it is (the same secret the bots sign links with; docs/web.md).",
              file=sys.stderr)
    stopping = stop_event()
    try:
        async with open_web(settings):
            await stopping.wait()
    except OSError as error:  # the port is taken, or the host is not ours
        print(f"vyke web could not listen on {settings.web_host}:{settings.web_port}: "
              f"{error.strerror or error}.", file=sys.stderr)
        return 1
    return 0
