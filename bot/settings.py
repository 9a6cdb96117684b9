"""All configuration, read once from the environment (and an optional ``.env``).

Nothing else in the product reads ``os.environ``: ``Settings`` is built here and passed down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.artifacts import S3Settings, StoreConfig

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Every setting, with the environment variable that sets it (see the README's table)."""

    # every setting of ours is ``VYKE_<FIELD NAME>``; the platforms' and services' own
    # variables (REDIS_URL, ANTHROPIC_API_KEY, DISCORD_TOKEN, SLACK_*) keep their usual names
    model_config = SettingsConfigDict(env_prefix="VYKE_", env_file=".env",
                                      env_file_encoding="utf-8", extra="ignore",
                                      populate_by_name=True)

    data_dir: Path = Path("data")
    log_level: str = "INFO"

    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    #: an S3-compatible object store for every artifact (uploads, stems, renders, exports):
    #: the bucket turns it on; the endpoint is the store's URL (unset: AWS S3 itself); the
    #: keys fall back to AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (see docs/deploy.md)
    s3_bucket: str | None = None
    s3_endpoint: str | None = None
    s3_access_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("VYKE_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"))
    s3_secret_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("VYKE_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"))
    s3_region: str = Field(default="us-east-1", validation_alias=AliasChoices(
        "VYKE_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"))
    #: the store is reachable by the people downloading: links go straight to it (presigned)
    #: instead of streaming through ``vyke web``
    s3_public: bool = False
    #: PostgreSQL for productions and server settings (``postgres://user:pass@host/db``);
    #: unset: the SQLite file in the data folder
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    inline_workers: int = Field(default=1, ge=1, le=16)
    worker_queues: str = "separate,render"
    worker_jobs: int = Field(default=1, ge=1, le=32)
    job_timeouts_s: dict[str, float] = Field(default_factory=dict)
    job_max_tries: int = Field(default=3, ge=1, le=10)
    job_retry_backoff_s: float = Field(default=2.0, ge=0)
    bot_consumer: str = Field(default="bot", min_length=1)
    productions_per_server: int = Field(default=8, ge=1)

    anthropic_api_key: SecretStr | None = Field(default=None,
                                                validation_alias="ANTHROPIC_API_KEY")
    anthropic_model: str = Field(default="claude-sonnet-4-6",
                                 validation_alias="ANTHROPIC_MODEL")
    anthropic_base_url: str | None = Field(default=None,
                                           validation_alias="ANTHROPIC_BASE_URL")
    anthropic_timeout_s: float = Field(default=20.0, gt=0)

    discord_token: SecretStr | None = Field(default=None, validation_alias="DISCORD_TOKEN")
    slack_bot_token: SecretStr | None = Field(default=None,
                                              validation_alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(default=None,
                                              validation_alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None,
                                                   validation_alias="SLACK_SIGNING_SECRET")

    public_url: str = "http://127.0.0.1:8080"
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    #: the port a Procfile platform (Heroku and the like) gives the web process; when set,
    #: ``vyke web`` listens on it on every interface (unless VYKE_WEB_HOST says otherwise)
    port: int | None = Field(default=None, ge=1, le=65535, validation_alias="PORT")
    link_secret: SecretStr | None = None
    link_ttl_hours: float = Field(default=24.0, gt=0)
    answerers: Literal["thread", "owner"] = "thread"

    max_upload_mb: float = Field(default=100.0, gt=0)
    max_song_minutes: float = Field(default=12.0, gt=0)
    turns_per_minute: int = Field(default=30, ge=0)
    server_turns_per_minute: int = Field(default=600, ge=0)
    #: longest arrangement rendered, in bars (0: each genre's full form); a small host's cap
    max_bars: int = Field(default=0, ge=0)
    #: the analysis, stem and render caches (content-addressed, safe to delete, shared by every
    #: production); empty: DATA_DIR/cache
    cache_dir: Path | None = None
    #: the caches' size on this host, in GB (least recently used out first); 0: no limit
    cache_max_gb: float = Field(default=4.0, ge=0)
    jobs_per_user: int = Field(default=2, ge=1)
    idle_expiry_hours: float = Field(default=24.0, gt=0)

    demucs_model: str = "htdemucs"
    demucs_weights_dir: Path | None = None
    separation_segment_s: float | None = Field(default=None, gt=0, le=7.8)
    separation_overlap: float = Field(default=0.25, ge=0, lt=1)
    separation_shifts: int = Field(default=1, ge=0, le=10)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    #: the director's own Sound Vault: a folder of one-shots and loops the drums may play
    samples_dir: Path | None = None
    #: play sampled kits from the free libraries the system installed (Hydrogen kits, GM SoundFonts)
    sample_library: bool = True

    @model_validator(mode="after")
    def _platform_port(self) -> Settings:
        if self.port is not None:
            self.web_port = self.port
            if "web_host" not in self.model_fields_set:
                self.web_host = "0.0.0.0"  # the platform's router reaches the dyno from outside
        return self

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def cache_max_bytes(self) -> int:
        return int(self.cache_max_gb * 1e9)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "vyke.sqlite"

    @property
    def cache_path(self) -> Path:
        """This host's caches (analysis, stems, renders, fetched objects): disposable."""
        return self.cache_dir or self.data_dir / "cache"

    def store_config(self) -> StoreConfig:
        """Where this process keeps and finds artifacts (the S3 store when a bucket is set)."""
        s3 = None
        if self.s3_bucket:
            s3 = S3Settings(endpoint=self.s3_endpoint, bucket=self.s3_bucket,
                            access_key=self.s3_access_key, secret_key=self.s3_secret_key,
                            region=self.s3_region, public=self.s3_public)
        return StoreConfig(data_dir=str(self.data_dir.resolve()),
                           cache_dir=str(self.cache_path.resolve()),
                           cache_max_bytes=self.cache_max_bytes, s3=s3,
                           samples_dir=str(self.samples_dir.resolve()) if self.samples_dir
                           else None,
                           weights_dir=str(self.demucs_weights_dir.resolve())
                           if self.demucs_weights_dir else None, device=self.device)

    def samples_payload(self) -> dict[str, object]:
        """Whether renders play the installed sample libraries, as a job payload (see
        ``SampleSources``); the Sound Vault is each render worker's own ``VYKE_SAMPLES_DIR``."""
        return {"library": self.sample_library}

    def separation_payload(self) -> dict[str, object]:
        """The separation settings as a job payload (jobs never read settings themselves)."""
        return {
            "model": self.demucs_model,
            "segment_s": self.separation_segment_s,
            "overlap": self.separation_overlap,
            "shifts": self.separation_shifts,
        }
