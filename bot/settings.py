"""All configuration, read once from the environment (and an optional ``.env``).

Nothing else in the product reads ``os.environ``: ``Settings`` is built here and passed down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every setting, with the environment variable that sets it (see the README's table)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      populate_by_name=True)

    data_dir: Path = Field(default=Path("data"), validation_alias=_env("VYKE_DATA_DIR"))
    log_level: str = Field(default="INFO", validation_alias=_env("VYKE_LOG_LEVEL"))

    redis_url: str | None = Field(default=None, validation_alias=_env("REDIS_URL"))
    inline_workers: int = Field(default=1, ge=1, le=16, validation_alias=_env("VYKE_INLINE_WORKERS"))
    worker_queues: str = Field(default="separate,render", validation_alias=_env("VYKE_WORKER_QUEUES"))
    worker_jobs: int = Field(default=1, ge=1, le=32, validation_alias=_env("VYKE_WORKER_JOBS"))
    job_timeouts_s: dict[str, float] = Field(default_factory=dict,
                                             validation_alias=_env("VYKE_JOB_TIMEOUTS_S"))
    job_max_tries: int = Field(default=3, ge=1, le=10, validation_alias=_env("VYKE_JOB_MAX_TRIES"))
    job_retry_backoff_s: float = Field(default=2.0, ge=0,
                                       validation_alias=_env("VYKE_JOB_RETRY_BACKOFF_S"))
    bot_consumer: str = Field(default="bot", min_length=1, validation_alias=_env("VYKE_BOT_CONSUMER"))
    productions_per_server: int = Field(default=8, ge=1,
                                        validation_alias=_env("VYKE_PRODUCTIONS_PER_SERVER"))

    anthropic_api_key: SecretStr | None = Field(default=None,
                                                validation_alias=_env("ANTHROPIC_API_KEY"))
    anthropic_model: str = Field(default="claude-sonnet-4-6",
                                 validation_alias=_env("ANTHROPIC_MODEL"))
    anthropic_base_url: str | None = Field(default=None,
                                           validation_alias=_env("ANTHROPIC_BASE_URL"))
    anthropic_timeout_s: float = Field(default=20.0, gt=0,
                                       validation_alias=_env("VYKE_ANTHROPIC_TIMEOUT_S"))

    discord_token: SecretStr | None = Field(default=None, validation_alias=_env("DISCORD_TOKEN"))
    slack_bot_token: SecretStr | None = Field(default=None,
                                              validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_app_token: SecretStr | None = Field(default=None,
                                              validation_alias=_env("SLACK_APP_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(default=None,
                                                   validation_alias=_env("SLACK_SIGNING_SECRET"))

    public_url: str = Field(default="http://127.0.0.1:8080", validation_alias=_env("VYKE_PUBLIC_URL"))
    web_host: str = Field(default="127.0.0.1", validation_alias=_env("VYKE_WEB_HOST"))
    web_port: int = Field(default=8080, ge=1, le=65535, validation_alias=_env("VYKE_WEB_PORT"))
    link_secret: SecretStr | None = Field(default=None, validation_alias=_env("VYKE_LINK_SECRET"))
    link_ttl_hours: float = Field(default=24.0, gt=0, validation_alias=_env("VYKE_LINK_TTL_HOURS"))
    answerers: Literal["thread", "owner"] = Field(default="thread",
                                                  validation_alias=_env("VYKE_ANSWERERS"))

    max_upload_mb: float = Field(default=100.0, gt=0, validation_alias=_env("VYKE_MAX_UPLOAD_MB"))
    max_song_minutes: float = Field(default=12.0, gt=0,
                                    validation_alias=_env("VYKE_MAX_SONG_MINUTES"))
    turns_per_minute: int = Field(default=30, ge=0, validation_alias=_env("VYKE_TURNS_PER_MINUTE"))
    server_turns_per_minute: int = Field(default=600, ge=0,
                                         validation_alias=_env("VYKE_SERVER_TURNS_PER_MINUTE"))
    jobs_per_user: int = Field(default=2, ge=1, validation_alias=_env("VYKE_JOBS_PER_USER"))
    idle_expiry_hours: float = Field(default=24.0, gt=0,
                                     validation_alias=_env("VYKE_IDLE_EXPIRY_HOURS"))

    demucs_model: str = Field(default="htdemucs", validation_alias=_env("VYKE_DEMUCS_MODEL"))
    demucs_weights_dir: Path | None = Field(default=None,
                                            validation_alias=_env("VYKE_DEMUCS_WEIGHTS_DIR"))
    separation_segment_s: float | None = Field(default=None, gt=0, le=7.8,
                                               validation_alias=_env("VYKE_SEPARATION_SEGMENT_S"))
    separation_overlap: float = Field(default=0.25, ge=0, lt=1,
                                      validation_alias=_env("VYKE_SEPARATION_OVERLAP"))
    separation_shifts: int = Field(default=1, ge=0, le=10,
                                   validation_alias=_env("VYKE_SEPARATION_SHIFTS"))
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", validation_alias=_env("VYKE_DEVICE"))
    #: the director's own Sound Vault: a folder of one-shots and loops the drums may play
    samples_dir: Path | None = Field(default=None, validation_alias=_env("VYKE_SAMPLES_DIR"))
    #: play sampled kits from the free libraries the system installed (Hydrogen kits, GM SoundFonts)
    sample_library: bool = Field(default=True, validation_alias=_env("VYKE_SAMPLE_LIBRARY"))

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "vyke.sqlite"

    def samples_payload(self) -> dict[str, object]:
        """Where renders may find recorded instruments, as a job payload (see ``SampleSources``)."""
        return {"library": self.sample_library,
                "vault_dir": str(self.samples_dir.resolve()) if self.samples_dir else None}

    def separation_payload(self) -> dict[str, object]:
        """The separation settings as a job payload (jobs never read settings themselves)."""
        return {
            "model": self.demucs_model,
            "weights_dir": str(self.demucs_weights_dir) if self.demucs_weights_dir else None,
            "segment_s": self.separation_segment_s,
            "overlap": self.separation_overlap,
            "shifts": self.separation_shifts,
            "device": self.device,
        }
