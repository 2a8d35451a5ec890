"""Settings: read once from the environment (and .env), passed in everywhere, never global."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.core.keeper import RULES as KEEPER_RULES
from backend.core.keeper import KeeperRule

if TYPE_CHECKING:  # imported when used: settings are read by every command, pictures not
    from backend.core.decode import DecodeLimits

DEV_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # for tests; refused in production
# SSCD cosine for the similar tier without CLIP, per copy model (calibrated: docs/models.md).
SIMILAR_COPY_DEFAULTS = {"sscd": 0.50, "sscd_distilled": 0.60}
# pgvector's hnsw.ef_search: HNSW candidates per search (a search uses at least 2 k). Measured
# on 1M vectors of one person (bench/RESULTS.md, "Vector search"; revision 0004's index, M = 16,
# ef_construction = 64): recall@10 0.60 at 40 (pgvector's default), 0.82 at 100, 0.91 at 200,
# 0.93 at 400, 0.948 at 1000 (pgvector's maximum): no value reaches 0.95 with this index. Of the
# true top 10 at cosine >= 0.9 (the duplicates the grouping looks for), 400 finds 0.976 (0.94 at
# 200, 0.99 at 800). 400 costs ~4x the time of 100 (100k vectors: p50 24 ms against 7 ms on
# 2 busy cores); past it each step buys ~0.5% for ~1.3x the time. 100k vectors: 0.9997 from 200.
PGVECTOR_EF_SEARCH = 400
REPO_FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "dupfinder"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default_factory=default_data_dir, alias="DUPFINDER_DATA_DIR")
    # The seed's variable names.
    database_url: str = Field(default="", alias="DATABASE_URL")
    celery_broker_url: str = Field(default="", alias="CELERY_BROKER_URL")
    celery_backend_url: str = Field(default="", alias="CELERY_BACKEND_URL")
    # SCRAPE mode: the page `dupfinder scrape` walks, and the API it sends what it finds to.
    google_photos_url: str = Field(default="https://photos.google.com/", alias="GOOGLE_PHOTOS_URL")
    fastapi_endpoint: str = Field(default="http://127.0.0.1:8000", alias="FASTAPI_ENDPOINT")
    # API mode: a person's Google Photos through OAuth 2.0 and the Picker API (README: "Google
    # Photos"). No client id: the integration is off. The endpoints default to Google's own.
    google_client_id: str = Field(default="", alias="DUPFINDER_GOOGLE_CLIENT_ID")
    google_client_secret: SecretStr = Field(
        default=SecretStr(""), alias="DUPFINDER_GOOGLE_CLIENT_SECRET"
    )
    # Empty: this service's own /api/v1/integrations/google/callback, as the browser reached it.
    google_redirect_uri: str = Field(default="", alias="DUPFINDER_GOOGLE_REDIRECT_URI")
    google_authorize_url: str = Field(
        default="https://accounts.google.com/o/oauth2/v2/auth",
        alias="DUPFINDER_GOOGLE_AUTHORIZE_URL",
    )
    google_token_url: str = Field(
        default="https://oauth2.googleapis.com/token", alias="DUPFINDER_GOOGLE_TOKEN_URL"
    )
    google_revoke_url: str = Field(
        default="https://oauth2.googleapis.com/revoke", alias="DUPFINDER_GOOGLE_REVOKE_URL"
    )
    google_picker_url: str = Field(
        default="https://photospicker.googleapis.com", alias="DUPFINDER_GOOGLE_PICKER_URL"
    )
    # Fernet key(s) that encrypt the tokens at rest; several comma-separated, newest first, to
    # rotate. Empty (development and tests only): a key derived from the secret key.
    token_encryption_key: SecretStr = Field(
        default=SecretStr(""), alias="DUPFINDER_TOKEN_ENCRYPTION_KEY"
    )
    # The Chromium the scraper drives (never downloaded: Debian's `chromium` package).
    chromium_path: str = Field(default="/usr/bin/chromium", alias="DUPFINDER_CHROMIUM")
    # URLs the service downloads (scraped photos): https only, from these hosts (exact, or
    # "*.example.com"), never to a private address (backend/services/fetching/safe_fetch.py).
    fetch_allowed_hosts: list[str] = Field(
        default_factory=lambda: ["lh3.googleusercontent.com", "photos.fife.usercontent.google.com"],
        alias="DUPFINDER_FETCH_ALLOWED_HOSTS",
    )
    fetch_connect_timeout: float = Field(
        default=10.0, gt=0, alias="DUPFINDER_FETCH_CONNECT_TIMEOUT"
    )
    fetch_read_timeout: float = Field(default=30.0, gt=0, alias="DUPFINDER_FETCH_READ_TIMEOUT")
    fetch_total_timeout: float = Field(default=120.0, gt=0, alias="DUPFINDER_FETCH_TOTAL_TIMEOUT")
    # Tests only (refused unless environment is "test"): origins such as http://127.0.0.1:8123
    # exempt from the https and address checks, and a CA file the fetcher trusts.
    fetch_test_origins: list[str] = Field(
        default_factory=list, alias="DUPFINDER_FETCH_TEST_ORIGINS"
    )
    fetch_test_ca_file: str | None = Field(default=None, alias="DUPFINDER_FETCH_TEST_CA_FILE")

    # Celery: how long a killed worker's unacknowledged message waits before another gets it,
    # and how often workers sweep for work whose messages were lost (e.g. a Redis restart).
    celery_visibility_timeout: int = Field(default=300, alias="DUPFINDER_VISIBILITY_TIMEOUT")
    sweep_seconds: float = Field(default=60.0, gt=0, alias="DUPFINDER_SWEEP_SECONDS")
    # Stored files no image refers to (a crash between storing an upload and committing its
    # row) are deleted by the sweep once untouched this long: far longer than any upload or
    # import batch takes, so one still arriving is never taken; looked for this often.
    orphan_grace_seconds: float = Field(
        default=86400.0, gt=0, alias="DUPFINDER_ORPHAN_GRACE_SECONDS"
    )
    orphan_sweep_seconds: float = Field(
        default=3600.0, gt=0, alias="DUPFINDER_ORPHAN_SWEEP_SECONDS"
    )
    # A person's grouping waits this long after the first request, so that the analyses
    # finishing meanwhile are grouped in one run (both workers).
    grouping_gather_seconds: float = Field(
        default=1.0, ge=0, alias="DUPFINDER_GROUPING_GATHER_SECONDS"
    )
    retry_base_seconds: float = Field(default=0.5, gt=0, alias="DUPFINDER_RETRY_BASE_SECONDS")
    auto_migrate: bool = Field(default=True, alias="DUPFINDER_AUTO_MIGRATE")
    storage_dir: Path | None = Field(default=None, alias="DUPFINDER_STORAGE_DIR")
    # Shared image storage for workers on several machines: s3://BUCKET/prefix?endpoint_url=
    # http://host:9000&region=us-east-1 (credentials from AWS_* or ~/.aws, never the URL), or
    # file:///shared/dir. Empty: DUPFINDER_STORAGE_DIR (default DATA_DIR/blobs).
    storage_url: str = Field(default="", alias="DUPFINDER_STORAGE_URL")
    # The web UI's static files; empty disables serving it (e.g. behind a separate frontend).
    frontend_dir: Path | None = Field(default=REPO_FRONTEND, alias="DUPFINDER_FRONTEND_DIR")
    # Signs access tokens. Empty: a random key kept in DATA_DIR/secret_key (one machine); every
    # API instance of a cluster must share one, so production requires it to be set.
    secret_key: str = Field(default="", alias="DUPFINDER_SECRET_KEY")
    # Bearer access tokens are short-lived; clients renew them at /auth/refresh. A session (the
    # web UI's cookie, an API client's refresh token) lasts DUPFINDER_SESSION_DAYS unless revoked.
    access_token_minutes: int = Field(default=15, gt=0, alias="DUPFINDER_ACCESS_TOKEN_MINUTES")
    session_days: float = Field(default=30, gt=0, alias="DUPFINDER_SESSION_DAYS")
    # Wrong passwords allowed per account and per client address within the window; more get
    # 429 with Retry-After until the oldest counted one leaves the window.
    login_window_seconds: int = Field(default=900, gt=0, alias="DUPFINDER_LOGIN_WINDOW_SECONDS")
    login_failures_per_account: int = Field(
        default=5, gt=0, alias="DUPFINDER_LOGIN_FAILURES_PER_ACCOUNT"
    )
    login_failures_per_address: int = Field(
        default=30, gt=0, alias="DUPFINDER_LOGIN_FAILURES_PER_ADDRESS"
    )
    cors_origins: list[str] = Field(default_factory=list, alias="DUPFINDER_CORS_ORIGINS")

    max_upload_bytes: int = Field(default=100 * 1024 * 1024, alias="DUPFINDER_MAX_UPLOAD_BYTES")
    max_image_pixels: int = Field(default=150_000_000, alias="DUPFINDER_MAX_IMAGE_PIXELS")
    # MiB the decoded pixels of one process may take at once (decodes wait for room; one
    # picture needing more is refused with its reason): 512 is 128 MP of colour at full size.
    # JPEGs are decoded reduced for analysis, so only their exact-pixel check is bounded by it.
    decode_budget_mib: int = Field(default=512, ge=16, alias="DUPFINDER_DECODE_BUDGET_MIB")
    # One request's body: a batch of photos (the web UI sends a selection in batches under it).
    max_request_bytes: int = Field(default=512 * 1024**2, alias="DUPFINDER_MAX_REQUEST_BYTES")
    # MiB the uploads being received may hold in DATA_DIR/tmp/uploads at once (per API
    # process); a request that would pass it gets 503 with Retry-After.
    upload_spool_mib: int = Field(default=2048, ge=1, alias="DUPFINDER_UPLOAD_SPOOL_MIB")
    max_files_per_upload: int = Field(default=500, alias="DUPFINDER_MAX_FILES_PER_UPLOAD")
    # Google Takeout import (POST /api/v1/imports/takeout, `dupfinder import-takeout`).
    # A request's archives together (its own body limit, over DUPFINDER_MAX_REQUEST_BYTES).
    max_takeout_bytes: int = Field(default=64 * 1024**3, gt=0, alias="DUPFINDER_MAX_TAKEOUT_BYTES")
    # Where uploaded archives wait for the ingest queue (default DATA_DIR/tmp/takeout); in
    # distributed mode the API and the ingest workers must share it.
    takeout_dir: Path | None = Field(default=None, alias="DUPFINDER_TAKEOUT_DIR")
    # Zip-bomb guards: what all members may unpack to, and how much a member may grow.
    takeout_max_unpacked_bytes: int = Field(
        default=256 * 1024**3, gt=0, alias="DUPFINDER_TAKEOUT_MAX_UNPACKED_BYTES"
    )
    takeout_max_ratio: int = Field(default=100, ge=2, alias="DUPFINDER_TAKEOUT_MAX_RATIO")
    takeout_max_members: int = Field(default=500_000, ge=1, alias="DUPFINDER_TAKEOUT_MAX_MEMBERS")
    # Photos in Google Photos' trash are left out unless this is set.
    takeout_include_trashed: bool = Field(default=False, alias="DUPFINDER_TAKEOUT_INCLUDE_TRASHED")
    worker_threads: int = Field(default=0, alias="DUPFINDER_WORKER_THREADS")  # 0: one per core
    # Embedded mode: where analysis (image work, models, grouping) runs. "processes": child
    # processes at a lower priority, so requests never wait for the GIL behind it (what
    # `dupfinder serve` uses under "auto"); "threads": inside this process (a scan's default:
    # nothing else is waiting, and it saves the children's start-up).
    embedded_analysis: Literal["auto", "threads", "processes"] = Field(
        default="auto", alias="DUPFINDER_EMBEDDED_ANALYSIS"
    )
    # `dupfinder serve`: processes answering requests (0: one per core, at most 2). Above 1,
    # the serve process supervises them and keeps the analysis (see backend/serve.py).
    api_processes: int = Field(default=0, ge=0, le=32, alias="DUPFINDER_API_PROCESSES")
    # How much lower the analysis processes' priority is (nice increment, 0-19).
    analysis_nice: int = Field(default=10, ge=0, le=19, alias="DUPFINDER_ANALYSIS_NICE")
    # Perceptual-hash distance (of 64 bits) at or under which two pictures are the same photo.
    # Calibrated on the shared benchmark: see bench/RESULTS.md.
    near_distance: int = Field(default=8, ge=0, le=16, alias="DUPFINDER_NEAR_DISTANCE")

    # Models (see docs/models.md). Each can be switched off with "none".
    # Copy detection (near tier beyond hashes): Meta's SSCD, "sscd" or "sscd_distilled".
    copy_model: Literal["sscd", "sscd_distilled", "none"] = Field(
        default="sscd", alias="DUPFINDER_COPY_MODEL"
    )
    # CLIP image encoder for the similar tier, an Immich export under MODELS_DIR/<name>/
    # (`dupfinder models fetch-clip NAME`). Missing: the similar tier falls back to SSCD.
    clip_model: str = Field(default="ViT-B-32__openai", alias="DUPFINDER_CLIP_MODEL")
    models_dir: Path | None = Field(default=None, alias="DUPFINDER_MODELS_DIR")
    object_model: Literal["yolov4-tiny", "none"] = Field(
        default="yolov4-tiny", alias="DUPFINDER_OBJECT_MODEL"
    )
    # Which images the object detector tags: "all" (tags to filter groups by; filled after
    # the groups are ready), or "candidates": only the images the similar tier's people check
    # asks about ("auto": candidates for a scan, which shows no tags; all elsewhere).
    object_tags: Literal["auto", "all", "candidates"] = Field(
        default="auto", alias="DUPFINDER_OBJECT_TAGS"
    )
    model_batch_size: int = Field(default=8, ge=1, le=256, alias="DUPFINDER_MODEL_BATCH_SIZE")
    # ONNX Runtime / OpenCV threads per model; 0: their own default (all cores).
    model_threads: int = Field(default=0, ge=0, alias="DUPFINDER_MODEL_THREADS")
    # Thresholds, calibrated on the shared benchmark (bench/RESULTS.md, docs/models.md).
    # SSCD cosine similarity at or over which two pictures are copies of one photo (near).
    near_copy_similarity: float = Field(
        default=0.65, ge=0, le=1, alias="DUPFINDER_NEAR_COPY_SIMILARITY"
    )
    # Similar tier ("same scene, another shot"): CLIP cosine, or SSCD's without CLIP.
    similar_clip_similarity: float = Field(
        default=0.90, ge=-1, le=1, alias="DUPFINDER_SIMILAR_CLIP_SIMILARITY"  # cosine
    )
    # Empty: per model, set about 0.1 above the highest unrelated pair of the benchmark
    # (sscd 0.50, sscd_distilled 0.60; see docs/models.md).
    similar_copy_similarity: float | None = Field(
        default=None, ge=0, le=1, alias="DUPFINDER_SIMILAR_COPY_SIMILARITY"
    )
    # Verify every would-be near pair (core/verify.py): one transform must explain the picture,
    # else it is another shot of the scene (similar tier). Off: the copy signals alone decide.
    verify_copies: bool = Field(default=True, alias="DUPFINDER_VERIFY_COPIES")
    # Bursts without CLIP: one camera, at most this many seconds apart (EXIF), and hashes
    # alike; 0 turns the rule off.
    burst_seconds: float = Field(default=10.0, ge=0, alias="DUPFINDER_BURST_SECONDS")
    # The keeper suggestion's rules, in order (backend/core/keeper.py): the first that tells two
    # copies apart decides; every rule the keeper wins on is shown as a reason.
    keeper_rules: list[KeeperRule] = Field(
        default_factory=lambda: list(KEEPER_RULES), min_length=1, alias="DUPFINDER_KEEPER_RULES"
    )
    # Two shots with different people counts are not "the same shot" (similar tier only).
    similar_object_check: bool = Field(default=True, alias="DUPFINDER_SIMILAR_OBJECT_CHECK")
    # Each new image looks at this many nearest neighbours per model (as Immich does).
    neighbours: int = Field(default=32, ge=1, le=1000, alias="DUPFINDER_NEIGHBOURS")
    # In-process vector search: exact NumPy up to this many vectors per person, HNSW beyond.
    # Grouping searches a batch of new photos at once, where exact search is cheap (3.9 ms a
    # query at 100k vectors) and needs no index build at each start (usearch: ~100 s at 100k).
    vector_exact_limit: int = Field(default=200_000, ge=0, alias="DUPFINDER_VECTOR_EXACT_LIMIT")
    # pgvector: HNSW candidates per search (at least 2 k; pgvector allows 1 to 1000): recall
    # against time on large libraries, see PGVECTOR_EF_SEARCH.
    pgvector_ef_search: int = Field(
        default=PGVECTOR_EF_SEARCH, ge=1, le=1000, alias="DUPFINDER_PGVECTOR_EF_SEARCH"
    )

    @property
    def similar_copy_threshold(self) -> float:
        if self.similar_copy_similarity is not None:
            return self.similar_copy_similarity
        return SIMILAR_COPY_DEFAULTS.get(self.copy_model, 0.5)

    @field_validator(
        "frontend_dir",
        "storage_dir",
        "models_dir",
        "similar_copy_similarity",
        "fetch_test_ca_file",
        "takeout_dir",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _fill_and_check(self) -> Self:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'dupfinder.sqlite3'}"
        if self.storage_dir is None:
            self.storage_dir = self.data_dir / "blobs"
        if self.models_dir is None:
            self.models_dir = self.data_dir / "models"
        if self.environment != "test" and (self.fetch_test_origins or self.fetch_test_ca_file):
            raise ValueError(
                "DUPFINDER_FETCH_TEST_ORIGINS and DUPFINDER_FETCH_TEST_CA_FILE are for tests "
                "only: they would let the fetcher reach local addresses"
            )
        if self.environment == "production" and (
            self.secret_key == DEV_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "DUPFINDER_SECRET_KEY must be set to a random string of 32+ characters in "
                "production (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return self

    @model_validator(mode="after")
    def _check_google(self) -> Self:
        keys = self.token_encryption_keys
        if keys:
            from cryptography.fernet import Fernet
        for key in keys:
            try:
                Fernet(key)
            except ValueError:
                raise ValueError(
                    "DUPFINDER_TOKEN_ENCRYPTION_KEY: each comma-separated key must be a Fernet key "
                    "(32 url-safe base64-encoded bytes), e.g. the output of `python -c 'from "
                    "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
                ) from None
        if self.environment == "production" and self.google_client_id and not keys:
            raise ValueError(
                "DUPFINDER_TOKEN_ENCRYPTION_KEY must be set when a Google client is configured "
                "outside development: it encrypts people's Google tokens at rest (make one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            )
        return self

    @property
    def token_encryption_keys(self) -> list[str]:
        raw = self.token_encryption_key.get_secret_value()
        return [k.strip() for k in raw.split(",") if k.strip()]

    @property
    def google_enabled(self) -> bool:
        return bool(self.google_client_id)

    def ensure_secret_key(self) -> str:
        """The configured key, or this data directory's own random key (created once, 0600)."""
        if not self.secret_key:
            path = self.data_dir / "secret_key"
            if not path.exists():
                self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(48))
            self.secret_key = path.read_text().strip()
        return self.secret_key

    @property
    def blob_dir(self) -> Path:
        assert self.storage_dir is not None  # filled by the validator
        return self.storage_dir

    @property
    def takeout_folder(self) -> Path:
        """Where uploaded Takeout archives wait for their import."""
        return self.takeout_dir or self.data_dir / "tmp" / "takeout"

    @property
    def model_dir(self) -> Path:
        assert self.models_dir is not None  # filled by the validator
        return self.models_dir

    @property
    def storage_location(self) -> str | Path:
        return self.storage_url or self.blob_dir

    @property
    def distributed(self) -> bool:
        return bool(self.celery_broker_url)

    @property
    def analysis_in_this_process(self) -> bool:
        """Whether every queue's tasks (models, grouping) run in one process, on threads: a
        scan, or the embedded worker in threads. Not with Celery workers, nor with `serve`'s
        analysis processes (one per queue)."""
        return not self.distributed and self.embedded_analysis != "processes"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def decode_limits(self) -> DecodeLimits:
        from backend.core.decode import DecodeLimits

        return DecodeLimits(
            max_bytes=self.max_upload_bytes,
            max_pixels=self.max_image_pixels,
            max_side=DecodeLimits().max_side,
            decode_budget=self.decode_budget_mib * 1024 * 1024,
        )

    @property
    def threads(self) -> int:
        return self.worker_threads or max(1, os.cpu_count() or 1)
