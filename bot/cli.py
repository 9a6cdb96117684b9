"""The ``vyke`` command line: chat, demo, analyze, models, worker, discord, slack, web."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from bot.settings import Settings

__all__ = ["main"]

SEED_SCRIPT = "seed-remix.txt"
LOG_FILE = Path("logs") / "vyke.log"
"""Where ``chat``, ``demo`` and ``analyze`` log, under the data folder (``-v`` shows it too)."""

_CONVERSATION_COMMANDS = frozenset({"chat", "demo", "analyze"})

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    """Every command with its arguments and its handler (argparse's own dispatch: a command
    is added in one place, with no if-chain to keep in step)."""
    parser = argparse.ArgumentParser(prog="vyke", description="Vyke Produce: an AI music producer.")
    sub = parser.add_subparsers(dest="command", required=True)

    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="store_true",
                         help=f"show the log here too (it always goes to DATA_DIR/{LOG_FILE})")

    chat = sub.add_parser("chat", parents=[verbose], help="talk to the Maestro in the terminal",
                          description="Each run is a new conversation, named after the song and "
                                      "the time; --resume NAME continues one, --list shows them.")
    chat.set_defaults(handler=_chat_command)
    chat.add_argument("--audio", type=Path, help="the song to remix (sent with the first message)")
    chat.add_argument("--out", type=Path, help="where outputs go (default out/NAME)")
    chat.add_argument("--script", type=Path, help="one message per line; '#' lines are comments")
    which = chat.add_mutually_exclusive_group()
    which.add_argument("--name", help="name the new conversation (default: song and time)")
    which.add_argument("--resume", metavar="NAME", help="continue the conversation called NAME")
    which.add_argument("--list", action="store_true", help="list the conversations and stop")

    demo = sub.add_parser("demo", parents=[verbose],
                          help="the seed remix conversation on a generated demo song")
    demo.add_argument("--out", type=Path, default=Path("out/demo"))
    demo.set_defaults(handler=_demo_command)

    analyze = sub.add_parser("analyze", parents=[verbose],
                             help="tempo, key and loudness of an audio file")
    analyze.add_argument("file", type=Path)
    analyze.add_argument("--json", action="store_true", help="print the full report as JSON")
    analyze.set_defaults(handler=_analyze_command)

    models = sub.add_parser("models", help="manage separation model weights")
    models.add_argument("action", choices=["fetch"])
    models.set_defaults(handler=_models_command)

    worker = sub.add_parser("worker", help="run jobs from the Redis queues (needs REDIS_URL)")
    worker.add_argument("--queues", help="comma-separated: separate (GPU-capable), render (CPU); "
                                         "default VYKE_WORKER_QUEUES or both")
    worker.set_defaults(handler=_worker_command)
    sub.add_parser("discord", help="run the Maestro on Discord (needs DISCORD_TOKEN)"
                   ).set_defaults(handler=_discord_command)
    sub.add_parser("slack", help="run the Maestro in Slack (Socket Mode with SLACK_APP_TOKEN, "
                                 "else HTTP mode with SLACK_SIGNING_SECRET)"
                   ).set_defaults(handler=_slack_command)
    sub.add_parser("web", help="serve signed downloads and production pages (needs "
                               "VYKE_LINK_SECRET), and Slack's HTTP mode when configured"
                   ).set_defaults(handler=_web_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``vyke`` command; whatever goes wrong, the person reads a sentence, not a trace."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'a setting'}: {e['msg']}"
                             for e in error.errors())
        print(f"A setting in the environment (or .env) is not valid: {problems}.",
              file=sys.stderr)
        return 2
    log_file = _logging(settings, args.command, verbose=getattr(args, "verbose", False))
    try:
        return _run(args, settings)
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
        return 130
    except Exception as error:  # the last guard: one sentence here, the details in the log
        logger.exception("vyke %s failed", args.command)
        where = f" The details are in {log_file}." if log_file else ""
        print(f"vyke {args.command} stopped on an unexpected error ({type(error).__name__}: "
              f"{error}).{where}", file=sys.stderr)
        return 1


def _logging(settings: Settings, command: str, *, verbose: bool) -> Path | None:
    """Configure logging; returns the log file when the command writes one.

    The conversation commands keep the terminal for the conversation: the log goes to a file
    under the data folder, and with ``-v`` to the terminal as well. Their job processes write
    straight to the process's standard error (a library's warning, a crash's trace), so
    without ``-v`` that descriptor is pointed at the log file too, and this process's own
    ``sys.stderr`` keeps the terminal for the sentences it prints. The servers (``discord``,
    ``slack``, ``web``, ``worker``) log to standard error as servers do.
    """
    level = settings.log_level.upper()
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    log_file: Path | None = None
    handlers: list[logging.Handler] = []
    if command in _CONVERSATION_COMMANDS:
        log_file = settings.data_dir / LOG_FILE
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError:
            log_file = None  # a read-only data folder: the terminal it is
        if log_file is not None and not verbose:
            _stderr_to(log_file)
    if log_file is None or verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(level=level, format=fmt, handlers=handlers, force=True)
    logging.captureWarnings(True)  # a library's warning is a log line, not a terminal line
    for noisy in ("anthropic", "httpx", "httpcore", "httpx2", "httpcore2", "discord",
                  "slack_bolt", "slack_sdk", "numba", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger().level))
    return log_file


def _stderr_to(log_file: Path) -> None:
    """Send file descriptor 2 (inherited by job processes) to ``log_file``; keep ``sys.stderr``."""
    try:
        terminal = os.dup(2)
        target = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        return
    sys.stderr.flush()
    os.dup2(target, 2)
    os.close(target)
    sys.stderr = os.fdopen(terminal, "w", buffering=1, encoding="utf-8", errors="replace",
                           closefd=True)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch to the command's handler (each sub-parser names its own: ``set_defaults``)."""
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    return handler(args, settings)


def _chat_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.list:
        return asyncio.run(_list(settings))
    script = None
    if args.script is not None:
        from bot.chat import read_script

        if not args.script.is_file():
            print(f"There is no script at {args.script}.", file=sys.stderr)
            return 2
        script = read_script(args.script)
    return asyncio.run(_chat(settings, out=args.out, name=args.name, resume=args.resume,
                             audio=args.audio, script=script))


def _demo_command(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_demo(settings, out=args.out))


def _analyze_command(args: argparse.Namespace, settings: Settings) -> int:
    return _analyze(settings, args.file, as_json=args.json)


def _models_command(args: argparse.Namespace, settings: Settings) -> int:
    from jobs.separation import WeightsUnavailable, fetch_models

    try:
        print(fetch_models(model=settings.demucs_model, weights_dir=settings.demucs_weights_dir))
    except WeightsUnavailable as error:  # offline: one sentence, not a traceback
        print(str(error), file=sys.stderr)
        return 1
    return 0


def _worker_command(args: argparse.Namespace, settings: Settings) -> int:
    return _worker(settings, queues=args.queues or settings.worker_queues)


def _discord_command(args: argparse.Namespace, settings: Settings) -> int:
    from bot.discord_bot import run_discord

    return asyncio.run(run_discord(settings))


def _slack_command(args: argparse.Namespace, settings: Settings) -> int:
    from bot.slack_bot import run_slack

    return asyncio.run(run_slack(settings))


def _web_command(args: argparse.Namespace, settings: Settings) -> int:
    from bot.web import run_web

    return asyncio.run(run_web(settings))


def _worker(settings: Settings, *, queues: str) -> int:
    """Run ``vyke worker``: jobs from the named queues until SIGTERM."""
    if not settings.redis_url:
        print("vyke worker needs REDIS_URL (without Redis, the bot runs every job itself).",
              file=sys.stderr)
        return 2
    from jobs.worker import DEFAULT_TIMEOUTS_S, WorkerConfig, run_worker

    config = WorkerConfig(redis_url=settings.redis_url, store=settings.store_config(),
                          queues=tuple(q.strip() for q in queues.split(",") if q.strip()),
                          jobs_per_queue=settings.worker_jobs,
                          timeouts_s={**DEFAULT_TIMEOUTS_S, **settings.job_timeouts_s},
                          max_tries=settings.job_max_tries,
                          retry_backoff_s=settings.job_retry_backoff_s)
    try:
        return asyncio.run(run_worker(config))
    except ValueError as error:
        print(str(error), file=sys.stderr)
        return 2


async def _list(settings: Settings) -> int:
    """``vyke chat --list``: the terminal's conversations, the most recent first."""
    from bot.chat import LOCAL_PREFIX, list_lines
    from bot.state import open_state

    if not settings.database_url and not settings.database_path.is_file():
        print("\n".join(list_lines([])))
        return 0
    async with open_state(settings) as state:
        summaries = await state.store.summaries(prefix=LOCAL_PREFIX)
    print("\n".join(list_lines(summaries)))
    return 0


async def _chat(settings: Settings, *, out: Path | None, name: str | None, resume: str | None,
                audio: Path | None, script: list[str] | None, fresh_name: str = "") -> int:
    """A new conversation (named ``name``, or after the song and the time), or ``resume``'s.

    ``fresh_name`` names the new conversation when free, else gets ``-2``, ``-3``… (the demo:
    the same name, so the same patterns, in a fresh folder every time).
    """
    from bot.app import build_app
    from bot.chat import LOCAL_PREFIX, conversation_name, greeting, run_chat

    if audio is not None and not audio.is_file():
        print(f"There is no file at {audio}.", file=sys.stderr)
        return 2
    async with build_app(settings) as app:
        taken = {s.id.removeprefix(LOCAL_PREFIX)
                 for s in await app.store.summaries(prefix=LOCAL_PREFIX)}
        resumed = None
        if resume is not None:
            resumed = await app.store.get(LOCAL_PREFIX + resume)
            if resumed is None:
                print(f"There is no conversation called {resume}; vyke chat --list shows them.",
                      file=sys.stderr)
                return 2
            chosen = resume
        elif name is not None:
            if name in taken:
                print(f"There is already a conversation called {name}; continue it with "
                      f"vyke chat --resume {name}, or choose another name.", file=sys.stderr)
                return 2
            chosen = name
        elif fresh_name:
            chosen = next(n for n in (fresh_name, *(f"{fresh_name}-{i}" for i in range(2, 10**6)))
                          if n not in taken)
        else:
            chosen = conversation_name(song=audio, now=datetime.now(), taken=taken)
        intro = greeting(name=chosen, audio=audio, resumed=resumed, interactive=script is None)
        return await run_chat(app, out_dir=out or Path("out") / chosen, name=chosen, audio=audio,
                              script=script, intro=intro)


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
    return await _chat(demo_settings, out=out, name=None, resume=None, audio=song,
                       script=read_script(script_path), fresh_name="demo")


def _make_demo_song(path: str) -> str:
    from jobs.demo_song import make_demo_song

    return str(make_demo_song(Path(path)))


def _analyze(settings: Settings, file: Path, *, as_json: bool) -> int:
    from core.errors import VykeError
    from jobs.analysis import analyze_file

    if not file.is_file():
        print(f"There is no file at {file}." if not file.exists() else
              f"{file} is a folder; give me an audio file.", file=sys.stderr)
        return 2
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
