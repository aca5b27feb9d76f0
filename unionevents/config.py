"""Configuration classes.

Values come from environment variables first, then ``instance/config.py``
(both read by ``create_app``, except under testing), then these defaults.
Every setting below can come from the environment as ``UNIONEVENTS_<NAME>``
(``core/settings.py`` parses and checks it by the type of its default here).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


def load_or_create_secret_key(instance_dir: Path) -> str:
    """Read the development secret key from instance/, writing a random one on first run."""
    key_file = instance_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        # Created owner-only from the start; O_EXCL: two processes starting at once agree on one key.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


class Config:
    ENV_NAME = "development"
    # Read from the environment / instance/config.py by create_app, never at import time, so
    # an app built for tests sees nothing of the developer's environment.
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # default: instance/unionevents.db
    # No pool_pre_ping: it costs a round trip on every checkout, two per sign-up.  A PostgreSQL
    # connection is pinged only after lying idle in the pool (core.db.install_idle_ping).
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # PostgreSQL connection pool per process (SQLAlchemy's defaults when unset: 5, 10 and 30 s).
    # servers × workers × (size + overflow) must stay under the server's max_connections.
    DB_POOL_SIZE: int | None = None
    DB_MAX_OVERFLOW: int | None = None
    DB_POOL_TIMEOUT: int | None = None
    DB_PING_AFTER_IDLE_SECONDS = 10.0
    # The app reaches PostgreSQL through a pooler in transaction mode (PgBouncer pool_mode=transaction):
    # psycopg then prepares no server-side statements (prepare_threshold=None), since consecutive
    # transactions may run on different server connections (docs/deploy.md §3a).
    DB_TRANSACTION_POOLER = False
    # A database outage is answered 503 with this Retry-After (seconds); core.errors logs it once a minute.
    DB_OUTAGE_RETRY_AFTER = 30
    DB_CONNECT_TIMEOUT = 5  # seconds for a new PostgreSQL connection (libpq connect_timeout)
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # SQLite durability and waiting (see docs/reliability notes in core/db.py).
    SQLITE_BUSY_TIMEOUT_MS = 15000
    SQLITE_SYNCHRONOUS = "FULL"
    # A write transaction holding SQLite's write lock this long is logged as a warning: every other
    # writer waited for it.  (Each request's longest hold is in its log line as write_lock_ms.)
    SQLITE_WRITE_LOCK_WARN_MS = 1000
    # Writers take turns at a file lock before BEGIN IMMEDIATE instead of SQLite's sleep-and-retry
    # (core/sqlite_turnstile.py): the rush's slowest sign-ups no longer wait a second for the lock.
    SQLITE_WRITER_TURNSTILE = True
    # Answer each request's phases (auth, lock_wait, write, commit, app) in a Server-Timing header:
    # the benchmarks turn it on; off by default, as it tells clients about the server's internals.
    SERVER_TIMING = False

    BABEL_DEFAULT_LOCALE = "zh_Hans"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(PROJECT_ROOT / "translations")
    LANGUAGES = {"zh_Hans": "中文", "en": "English"}

    WTF_CSRF_TIME_LIMIT = None  # a sign-up form left open during a shift must still submit
    MAX_CONTENT_LENGTH = 25 * 1024 * 1024

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    REMEMBER_COOKIE_DURATION = 60 * 60 * 24 * 30
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 12

    PASSWORD_HASH_METHOD = "scrypt"
    PRIVACY_NOTICE_VERSION = "2026-11"
    HEALTH_CONSENT_VERSION = "2026-11"
    HEALTH_RETENTION_DAYS = 365  # health assessments are deleted this long after the check (`flask health purge`)

    REDIS_URL: str | None = None
    REDIS_CHECK_TIMEOUT = 1.0  # seconds: /healthz and the start-up check give Redis this long to answer
    RATELIMIT_STORAGE_URI = "memory://"  # Redis when REDIS_URL is set (see create_app)
    RATELIMIT_HEADERS_ENABLED = True
    # Redis down: keep limiting per process instead of failing every login with a 500.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_ENABLED = True
    # Login throttling (accounts/throttle.py, docs/design-decisions.md): wrong guesses per account over
    # every login endpoint; once an account has had that many, a client (address + browser) that itself
    # guessed wrong LOGIN_GUARDED_CLIENT_FAILURES times is refused until the window ends, while others
    # still get in with the right password.  Per address only failed logins count.
    LOGIN_ACCOUNT_FAILURE_LIMIT = "10 per 5 minutes"
    LOGIN_GUARDED_CLIENT_FAILURES = 3
    # Wrong guesses at one account from unknown clients (no device cookie for it), however many
    # addresses and browsers they rotate through: past this every unknown client is refused until the
    # window ends; the owner's known devices still log in.
    LOGIN_ACCOUNT_HARD_LIMIT = "30 per 5 minutes"
    LOGIN_ADDRESS_FAILURE_LIMIT = "40 per 5 minutes"
    # Account creation per address, every attempt: a venue's worth of new workers on one Wi-Fi.
    SIGNUP_RATE_LIMIT = "300 per hour"
    # Short ticket codes typed at the door (registrations/door_limits.py): unknown codes per organiser
    # (session or API token) before code entry is refused until the window ends.  QR scans never count.
    CHECKIN_CODE_GUESS_LIMIT = "20 per 5 minutes"
    # The font the ticket picture (保存为图片) is drawn in; None: Debian's fonts-wqy-microhei, found at
    # /usr/share/fonts/truetype/wqy/wqy-microhei.ttc or through fc-match (registrations/ticket_image.py).
    TICKET_FONT_PATH: str | None = None
    # SMS codes (accounts/codes.py, README "SMS codes"): one send per mobile number per
    # SMS_CODE_RESEND_SECONDS whatever the purpose; at most SMS_CODE_MOBILE_DAILY_LIMIT sends to one
    # number and SMS_CODE_ADDRESS_DAILY_LIMIT requests from one client address in any 24 hours (a venue's
    # Wi-Fi or a carrier NAT address with a few hundred first logins still passes; SMS pumping from one
    # address is bounded).  A code lives 5 minutes and dies after 5 wrong tries (fixed, decisions.md).
    SMS_CODE_RESEND_SECONDS = 60
    SMS_CODE_MOBILE_DAILY_LIMIT = 10
    SMS_CODE_ADDRESS_DAILY_LIMIT = 200
    # Code rows (sent time, number, an HMAC) are kept this long: at least the daily caps' 24 hours.
    SMS_CODE_RETENTION_DAYS = 1

    # API tokens stop working this many days after they were issued (a password change revokes them
    # at once).  Their last use is recorded at most once per API_TOKEN_USE_RECORD_SECONDS, so a token in
    # use does not write to the database on every request.
    API_TOKEN_LIFETIME_DAYS = 90
    API_TOKEN_USE_RECORD_SECONDS = 3600

    # Behind a reverse proxy (nginx): how many proxies to trust for X-Forwarded-For/-Proto/-Host.
    # 0 = not behind a proxy (the headers are ignored, so nobody can fake an address).
    PROXY_FIX_HOPS = 0

    # /metrics (core/metrics.py): open in development; in production only with this bearer token or from
    # these addresses/networks (e.g. ["10.0.0.0/24"]), and 404 when neither is set.
    METRICS_TOKEN: str | None = None
    METRICS_ALLOW: list = []

    # flask-smorest / OpenAPI
    API_TITLE = "unionevents API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    # Browsable docs at /api/v1/docs: Swagger UI vendored in static/vendor/swagger-ui, started by our
    # templates/swagger_ui.html (flask-smorest's own uses an inline script and the URL below for assets).
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"

    # Door check-in window (registrations/rules.py): a ticket checks in from this long before the
    # activity's start until its end plus the grace; a time-slot ticket from CHECKIN_SLOT_EARLY_MINUTES
    # before its slot until the slot's end plus the grace.  Organisers may check in outside it with a
    # recorded reason.  An offline check-in synced later is judged by the time the phone recorded,
    # if it is no older than CHECKIN_RECORDED_MAX_AGE_HOURS.
    CHECKIN_OPENS_BEFORE_MINUTES = 120
    CHECKIN_SLOT_EARLY_MINUTES = 30
    CHECKIN_GRACE_AFTER_END_MINUTES = 0
    CHECKIN_RECORDED_MAX_AGE_HOURS = 24
    # The door may undo a check-in this long after it was made (services.undo_door_check_in).
    CHECKIN_UNDO_MINUTES = 10

    # Notifications: "log" writes messages to the log; other senders are configured by name.
    OUTBOX_SENDER = "log"  # log | file | webhook
    OUTBOX_FILE = None
    OUTBOX_WEBHOOK_URL = None
    OUTBOX_WEBHOOK_TOKEN = None
    OUTBOX_WEBHOOK_SECRET: str | None = None  # HMAC-SHA256 key signing every webhook request (required for webhook)
    OUTBOX_WEBHOOK_TIMEOUT = 10.0  # seconds per request; a timeout is retried
    # Delivery (core/outbox_delivery.py, docs/notifications.md): a failed message waits
    # base·2^(n-1) seconds (at most the max, jittered) and is dead after OUTBOX_MAX_ATTEMPTS attempts;
    # a worker's claim on its batch lasts OUTBOX_LEASE_SECONDS (keep it above batch × timeout).
    OUTBOX_MAX_ATTEMPTS = 8
    OUTBOX_BACKOFF_BASE_SECONDS = 30.0
    OUTBOX_BACKOFF_MAX_SECONDS = 3600.0
    OUTBOX_LEASE_SECONDS = 300.0
    OUTBOX_BATCH_SIZE = 20
    OUTBOX_POLL_SECONDS = 2.0
    # Organisers' bulk messages: at most this many per recipient per hour (0 = no limit), and no
    # bulk SMS in the quiet hours (Beijing time; equal start and end switch them off).
    OUTBOX_BULK_PER_RECIPIENT_PER_HOUR = 3
    # ... and at most this many sends of an organiser's message to one activity's people in any 24 hours
    # (0 = no limit); the next is refused with a message (registrations/services/roster.py).
    BULK_MESSAGES_PER_ACTIVITY_PER_DAY = 3
    OUTBOX_QUIET_HOURS_START = "22:00"
    OUTBOX_QUIET_HOURS_END = "07:00"
    # Sent messages are deleted after this many days (`flask privacy purge-outbox`).
    OUTBOX_RETENTION_DAYS = 90
    # The record of which reminders went out is deleted this long after the start they were for
    # (`flask privacy purge-all`, job "reminders").
    REMINDER_RETENTION_DAYS = 30

    # `flask backup` writes here unless --output is given (default: instance/backups).
    BACKUP_DIR: str | None = None

    # Contest uploads: stored under UPLOAD_DIR (default instance/uploads), never served directly.
    UPLOAD_DIR: str | None = None
    CONTEST_MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # per photo
    CONTEST_MAX_IMAGE_PIXELS = 40_000_000  # decompression-bomb guard
    CONTEST_MAX_IMAGES_PER_ENTRY = 4
    # A performance's optional recording (contests/media.py): type by its first bytes, size by kind.
    CONTEST_MAX_AUDIO_BYTES = 20 * 1024 * 1024  # mp3, m4a, aac, wav
    CONTEST_MAX_VIDEO_BYTES = 50 * 1024 * 1024  # mp4, mov
    # The entry pages alone accept a request this large (a 50 MiB video and the form around it);
    # deploy/nginx/unionevents.conf allows a little more on those paths (and a little over
    # MAX_CONTENT_LENGTH elsewhere), so a body just over the limit gets the app's Chinese answer.
    CONTEST_MAX_ENTRY_REQUEST_BYTES = 52 * 1024 * 1024
    UPLOAD_FSYNC = True  # photos reach the disk before the entry is committed

    # Error tracking (core/sentry.py): off unless a DSN is given; personal data is scrubbed before sending.
    SENTRY_DSN: str | None = None
    SENTRY_RELEASE: str | None = None
    SENTRY_TRACES_SAMPLE_RATE = 0.0  # performance traces: 0 = none, 0.05 = one request in twenty

    # Test-only switches; ``create_app`` refuses them outside testing.
    TESTING_DISABLE_CAPACITY_GUARD = False
    TESTING_RACE_DELAY = 0.0


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True


class TestConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    WTF_CSRF_ENABLED = False
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"  # hashing cost is not under test
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SERVER_NAME = None


CONFIGS = {"development": Config, "production": ProductionConfig, "testing": TestConfig}
