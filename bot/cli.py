"""The ``vyke`` command line: chat, demo, analyze, models, worker, discord, slack, web."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from bot.settings import Settings

__all__ = ["main"]

SEED_SCRIPT = "seed-remix.txt"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vyke", description="Vyke Produce: an AI music producer.")
    sub = parser.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", help="talk to the Maestro in the terminal")
    chat.add_argument("--audio", type=Path, help="the song to remix (sent with the first message)")
    chat.add_argument("--out", type=Path, default=Path("out/chat"), help="where outputs go")
    chat.add_argument("--script", type=Path, help="one message per line; '#' lines are comments")
    chat.add_argument("--name", default="chat", help="conversation name (resume it by name)")

    demo = sub.add_parser("demo", help="the seed remix conversation on a generated demo song")
    demo.add_argument("--out", type=Path, default=Path("out/demo"))

    analyze = sub.add_parser("analyze", help="tempo, key and loudness of an audio file")
    analyze.add_argument("file", type=Path)
    analyze.add_argument("--json", action="store_true", help="print the full report as JSON")

    models = sub.add_parser("models", help="manage separation model weights")
    models.add_argument("action", choices=["fetch"])

    worker = sub.add_parser("worker", help="run jobs from the Redis queues (needs REDIS_URL)")
    worker.add_argument("--queues", help="comma-separated: separate (GPU-capable), render (CPU); "
                                         "default VYKE_WORKER_QUEUES or both")
    sub.add_parser("discord", help="run the Maestro on Discord (needs DISCORD_TOKEN)")
    sub.add_parser("slack", help="run the Maestro in Slack (Socket Mode with SLACK_APP_TOKEN, "
                                 "else HTTP mode with SLACK_SIGNING_SECRET)")
    sub.add_parser("web", help="serve signed downloads and production pages (needs "
                               "VYKE_LINK_SECRET), and Slack's HTTP mode when configured")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    for noisy in ("anthropic", "httpx", "httpcore", "httpx2", "httpcore2", "discord",
                  "slack_bolt", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger().level))
    if args.command == "chat":
        script = None
        if args.script is not None:
            from bot.chat import read_script

            script = read_script(args.script)
        return asyncio.run(_chat(settings, out=args.out, name=args.name, audio=args.audio,
                                 script=script))
    if args.command == "demo":
        return asyncio.run(_demo(settings, out=args.out))
    if args.command == "analyze":
        return _analyze(settings, args.file, as_json=args.json)
    if args.command == "models":
        from jobs.separation import WeightsUnavailable, fetch_models

        try:
            print(fetch_models(model=settings.demucs_model, weights_dir=settings.demucs_weights_dir))
        except WeightsUnavailable as error:  # offline: one sentence, not a traceback
            print(str(error), file=sys.stderr)
            return 1
        return 0
    if args.command == "worker":
        return _worker(settings, queues=args.queues or settings.worker_queues)
    if args.command == "discord":
        from bot.discord_bot import run_discord

        return asyncio.run(run_discord(settings))
    if args.command == "slack":
        from bot.slack_bot import run_slack

        return asyncio.run(run_slack(settings))
    if args.command == "web":
        from bot.web import run_web

        return asyncio.run(run_web(settings))
    return 2


def _worker(settings: Settings, *, queues: str) -> int:
    """Run ``vyke worker``: jobs from the named queues until SIGTERM."""
    if not settings.redis_url:
        print("vyke worker needs REDIS_URL (without Redis, the bot runs every job itself).",
              file=sys.stderr)
        return 2
    from jobs.worker import WorkerConfig, run_worker

    config = WorkerConfig(redis_url=settings.redis_url,
                          queues=tuple(q.strip() for q in queues.split(",") if q.strip()),
                          jobs_per_queue=settings.worker_jobs,
                          timeouts_s={**WorkerConfig(redis_url="").timeouts_s,
                                      **settings.job_timeouts_s},
                          max_tries=settings.job_max_tries,
                          retry_backoff_s=settings.job_retry_backoff_s)
    try:
        return asyncio.run(run_worker(config))
    except ValueError as error:
        print(str(error), file=sys.stderr)
        return 2


async def _chat(settings: Settings, *, out: Path, name: str, audio: Path | None,
                script: list[str] | None) -> int:
    from bot.app import build_app
    from bot.chat import run_chat

    if audio is not None and not audio.is_file():
        print(f"There is no file at {audio}.", file=sys.stderr)
        return 2
    async with build_app(settings) as app:
        return await run_chat(app, out_dir=out, name=name, audio=audio, script=script)


async def _demo(settings: Settings, *, out: Path) -> int:
    """Generate the demo song, then run the seed conversation on it, unattended."""
    from concurrent.futures import ProcessPoolExecutor

    from bot.chat import read_script

    out.mkdir(parents=True, exist_ok=True)
    song = out / "demo-song.wav"
    with ProcessPoolExecutor(max_workers=1) as pool:  # keep the audio libraries out of this process
        await asyncio.get_running_loop().run_in_executor(pool, _make_demo_song, str(song))
    print(f"Generated the demo song: {song}")
    script_text = (Path(__file__).parent / "scenarios" / SEED_SCRIPT).read_text("utf-8")
    script_path = out / SEED_SCRIPT
    script_path.write_text(script_text, encoding="utf-8")
    demo_settings = settings.model_copy(update={"data_dir": out / "data"})
    return await _chat(demo_settings, out=out, name="demo", audio=song,
                       script=read_script(script_path))


def _make_demo_song(path: str) -> str:
    from jobs.demo_song import make_demo_song

    return str(make_demo_song(Path(path)))


def _analyze(settings: Settings, file: Path, *, as_json: bool) -> int:
    from core.errors import VykeError
    from jobs.analysis import analyze_file

    try:
        report = analyze_file(file, max_duration_s=settings.max_song_minutes * 60,
                              max_size_bytes=settings.max_upload_bytes)
    except VykeError as error:
        print(str(error), file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        print(f"{report.tempo.bpm:.1f} BPM, {report.key.key.long_name}, "
              f"{report.integrated_lufs:.1f} LUFS, true peak {report.true_peak_dbtp:.1f} dBTP")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
