"""Kesu settings, read from the environment only: every variable is in docs/SETTINGS.md.

Only kesu.lib is imported here (typed parsers, the data directory); a domain reads its settings at use.
"""

from pathlib import Path

from .lib.datadir import ensure_dir, secret_in_file
from .lib.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_int,
    env_key,
    env_list,
    env_parsed,
    env_path,
    env_secret,
    env_str,
    env_thresholds,
    env_url,
)
from .lib.netsettings import (
    DEFAULT_DENY,
    parse_bootstrap_file,
    parse_dns_servers,
    parse_host_rules,
    parse_networks,
    parse_proxy_rules,
    parse_whois_servers,
)

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = ensure_dir(env_path("KESU_DATA_DIR", "./data"))

DEBUG = env_bool("KESU_DEBUG", False)
SECRET_KEY = env_secret("KESU_SECRET_KEY") or secret_in_file(DATA_DIR / "secret.key")
ALLOWED_HOSTS = env_list("KESU_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("KESU_CSRF_TRUSTED_ORIGINS", "")

# --- vault -----------------------------------------------------------------
# The master key wraps every data key. One machine keeps it in the data
# directory (with a warning); production passes it from elsewhere.
KESU_MASTER_KEY = env_key("KESU_MASTER_KEY")
KESU_MASTER_KEY_FILE = env_path("KESU_MASTER_KEY_FILE", str(DATA_DIR / "master.key"))
KESU_VAULT_DIR = ensure_dir(env_path("KESU_VAULT_DIR", str(DATA_DIR / "vault")))
# The audit log's head, anchored outside the database (daily, and at the first entry). Better still on
# another machine or an append-only mount: whoever can rewrite this file and the database can cut the log.
KESU_AUDIT_ANCHOR_FILE = env_path("KESU_AUDIT_ANCHOR_FILE", str(DATA_DIR / "audit-anchors.jsonl"))
KESU_MAX_UPLOAD_MB = env_int("KESU_MAX_UPLOAD_MB", 512, minimum=1, maximum=16384)
KESU_MAX_IMAGE_PIXELS = env_int("KESU_MAX_IMAGE_PIXELS", 100_000_000, minimum=1_000_000)
# A deleted reference stays sealed (hidden, out of the bank) this long so a mistaken click can be undone.
KESU_REFERENCE_UNDO_MINUTES = env_int("KESU_REFERENCE_UNDO_MINUTES", 10, minimum=1, maximum=24 * 60)
# Match thresholds per bank: PDQ and video frames in Hamming bits (Meta: 31),
# faces in L2 distance (dlib: 0.6). Lower is stricter.
KESU_MATCH_THRESHOLDS = env_thresholds(
    "KESU_MATCH_THRESHOLDS", {"pdq": 31, "vpdq": 31, "face": 0.6}, {"pdq": 64, "vpdq": 64, "face": 1.2}
)

# --- review ----------------------------------------------------------------
# A gentle daily limit of revealed (unblurred) media per person; supervisors set one per person too.
KESU_EXPOSURE_DAILY_LIMIT = env_int("KESU_EXPOSURE_DAILY_LIMIT", 40, minimum=1)
# Staff decisions refit a signal's calibration only once each class has this many decisions.
KESU_CALIBRATION_MIN_DECISIONS = env_int("KESU_CALIBRATION_MIN_DECISIONS", 20, minimum=2)
KESU_CALIBRATION_FILE = env_path("KESU_CALIBRATION_FILE", str(DATA_DIR / "calibration-desk.json"))

# --- web capture / patrol -------------------------------------------------
KESU_ALLOW_LOOPBACK = env_bool("KESU_ALLOW_LOOPBACK", False)

# Capture (kesu.capture): what the crawler may reach and how long it may take.
KESU_CAPTURE_DENY = env_parsed("KESU_CAPTURE_DENY", ",".join(DEFAULT_DENY), parse_networks)
KESU_CAPTURE_ALLOW = env_parsed("KESU_CAPTURE_ALLOW", "", parse_networks)
KESU_CAPTURE_PROXIES = env_parsed("KESU_CAPTURE_PROXIES", "", parse_proxy_rules)  # host-pattern=proxy-url,...
KESU_CAPTURE_HOSTS = env_parsed("KESU_CAPTURE_HOSTS", "", parse_host_rules)  # host-pattern=address,...
KESU_CAPTURE_PAGE_SECONDS = env_int("KESU_CAPTURE_PAGE_SECONDS", 60, minimum=5, maximum=3600)
KESU_CAPTURE_BODY_SECONDS = env_int("KESU_CAPTURE_BODY_SECONDS", 30, minimum=1, maximum=3600)
KESU_CAPTURE_BODY_MB = env_int("KESU_CAPTURE_BODY_MB", 200, minimum=1, maximum=16384)
KESU_CAPTURE_PAGE_MB = env_int("KESU_CAPTURE_PAGE_MB", 1024, minimum=1, maximum=65536)
KESU_CAPTURE_HOST_CONNECTIONS = env_int("KESU_CAPTURE_HOST_CONNECTIONS", 6, minimum=1, maximum=64)
KESU_CAPTURE_WARM_CONTEXTS = env_int("KESU_CAPTURE_WARM_CONTEXTS", 2, minimum=0, maximum=16)
KESU_CHROMIUM = env_str("KESU_CHROMIUM", "/usr/bin/chromium")
# RFC 3161 timestamps on evidence bundles: off unless an authority is named.
KESU_TSA_URL = env_str("KESU_TSA_URL")
KESU_TSA_CA_FILE = env_str("KESU_TSA_CA_FILE")
# The most one file of an evidence bundle (or one member of its WACZ, one WARC record) may unpack to when a
# bundle is read or verified: a capture's download limit plus room for WARC headers. Larger is refused unread.
KESU_EVIDENCE_MAX_MB = env_int("KESU_EVIDENCE_MAX_MB", KESU_CAPTURE_PAGE_MB + 256, minimum=1, maximum=65536 + 256)

# Site resolution (kesu.sites.resolvers): DNS, RDAP, WHOIS, ASN, CDN. Answers are
# cached in the database; failures for a shorter time so they are retried soon.
KESU_DNS_SERVERS = env_parsed("KESU_DNS_SERVERS", "", parse_dns_servers)  # ip[:port],...; empty: the system
KESU_DNS_TIMEOUT = env_int("KESU_DNS_TIMEOUT", 5, minimum=1, maximum=60)  # seconds per query
KESU_RDAP_BOOTSTRAP_FILE = env_parsed("KESU_RDAP_BOOTSTRAP_FILE", "", parse_bootstrap_file)  # "": the shipped one
KESU_WHOIS_SERVERS = env_parsed("KESU_WHOIS_SERVERS", "", parse_whois_servers)  # tld=host[:port],...
KESU_RESOLVE_SECONDS = env_int("KESU_RESOLVE_SECONDS", 15, minimum=1, maximum=300)  # per RDAP/WHOIS/HTTP exchange
KESU_RESOLVE_TTL_HOURS = env_int("KESU_RESOLVE_TTL_HOURS", 72, minimum=1, maximum=24 * 365)
KESU_RESOLVE_NEGATIVE_TTL_HOURS = env_int("KESU_RESOLVE_NEGATIVE_TTL_HOURS", 6, minimum=1, maximum=24 * 30)

INSTALLED_APPS = [
    "kesu.accounts.admin_site.KesuAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "kesu.accounts",
    "kesu.audit",
    "kesu.vault",
    "kesu.cases",
    "kesu.matching",
    "kesu.evidence",
    "kesu.sites",
    "kesu.notices",
    "kesu.patrol",
    "kesu.review",
    "kesu.exchange",
    "kesu.reports",
    "kesu.hashing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "kesu.lib.web.SecurityHeadersMiddleware",  # after WhiteNoise: static files stay cacheable
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "kesu.accounts.middleware.SessionLimitsMiddleware",
    "kesu.accounts.middleware.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "kesu.urls"
WSGI_APPLICATION = "kesu.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "cases:list"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kesu.matching.context_processors.thresholds",
            ],
        },
    },
]

DATABASES = {"default": database_from_url("KESU_DATABASE_URL", env_str("KESU_DATABASE_URL"), DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- sessions and login ------------------------------------------------------
SESSION_COOKIE_AGE = env_int("KESU_SESSION_IDLE_MINUTES", 30, minimum=1) * 60
SESSION_SAVE_EVERY_REQUEST = True  # idle timeout: every request extends it
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
KESU_SESSION_MAX_HOURS = env_int("KESU_SESSION_MAX_HOURS", 10, minimum=1)
KESU_LOGIN_MAX_FAILURES = env_int("KESU_LOGIN_MAX_FAILURES", 5, minimum=1)
KESU_LOGIN_LOCKOUT_MINUTES = env_int("KESU_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
OTP_TOTP_ISSUER = env_str("KESU_OTP_ISSUER", "Kesu")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "kesu.lib.errorpages.csrf_failure"  # the desk's own page, in her language

# --- HTTPS (production sits behind TLS) ---------------------------------------
KESU_HTTPS = env_bool("KESU_HTTPS", False)
SECURE_SSL_REDIRECT = KESU_HTTPS
SESSION_COOKIE_SECURE = KESU_HTTPS
CSRF_COOKIE_SECURE = KESU_HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if KESU_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = KESU_HTTPS
SECURE_HSTS_PRELOAD = KESU_HTTPS
if env_bool("KESU_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
# Nothing leaves for other sites; "no-referrer" would also make browsers send "Origin: null" on the desk's own
# form posts, which Django's CSRF check refuses.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- uploads: nothing sensitive may touch a temp file ----------------------------
# Only the in-memory handler: Django's default spills large uploads to /tmp
# in plaintext. The cap keeps memory bounded.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = KESU_MAX_UPLOAD_MB * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = FILE_UPLOAD_MAX_MEMORY_SIZE
DATA_UPLOAD_MAX_NUMBER_FILES = 200

# --- languages -------------------------------------------------------------------
LANGUAGE_CODE = env_choice("KESU_LANGUAGE", "ja", ("ja", "en"))
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("KESU_TIME_ZONE", "Asia/Tokyo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = ensure_dir(DATA_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- e-mail ----------------------------------------------------------------------
EMAIL_HOST = env_str("KESU_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = env_int("KESU_SMTP_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("KESU_SMTP_USER")
EMAIL_HOST_PASSWORD = env_secret("KESU_SMTP_PASSWORD")
_smtp_security = env_choice("KESU_SMTP_SECURITY", "none", ("none", "starttls", "tls"))
EMAIL_USE_TLS = _smtp_security == "starttls"
EMAIL_USE_SSL = _smtp_security == "tls"
EMAIL_TIMEOUT = env_int("KESU_SMTP_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("KESU_MAIL_FROM", "takedown@kesu.invalid")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
KESU_MAIL_CA_FILE = env_str("KESU_MAIL_CA_FILE")  # CA for the SMTP and IMAP servers' certificates
KESU_MAIL_ARCHIVE = env_str("KESU_MAIL_ARCHIVE")  # every notice is copied (Bcc) here; settles interrupted sends
KESU_MAIL_RATE_PER_DOMAIN = env_int("KESU_MAIL_RATE_PER_DOMAIN", 10, minimum=1)  # messages a minute
KESU_MAIL_MAX_ATTEMPTS = env_int("KESU_MAIL_MAX_ATTEMPTS", 8, minimum=1)
KESU_MAIL_CLAIM_SECONDS = env_int("KESU_MAIL_CLAIM_SECONDS", 300, minimum=0)
KESU_MAIL_MAX_MB = env_int("KESU_MAIL_MAX_MB", 25, minimum=1)
KESU_DKIM_KEY_FILE = env_str("KESU_DKIM_KEY_FILE")
KESU_DKIM_SELECTOR = env_str("KESU_DKIM_SELECTOR", "kesu")
KESU_DKIM_DOMAIN = env_str("KESU_DKIM_DOMAIN")
_imap_security = env_choice("KESU_IMAP_SECURITY", "tls", ("none", "starttls", "tls"))
KESU_IMAP = {
    "host": env_str("KESU_IMAP_HOST"),
    "port": env_int("KESU_IMAP_PORT", 993 if _imap_security == "tls" else 143, minimum=1, maximum=65535),
    "user": env_str("KESU_IMAP_USER"),
    "password": env_secret("KESU_IMAP_PASSWORD"),
    "security": _imap_security,
    "mailbox": env_str("KESU_IMAP_MAILBOX", "INBOX"),
    "archive_mailbox": env_str("KESU_IMAP_ARCHIVE_MAILBOX", "INBOX"),
    "timeout": env_int("KESU_IMAP_TIMEOUT", 30, minimum=1),
}
# Who signs the notices: the desk, as her representative.
KESU_ORG = {
    "name": env_str("KESU_ORG_NAME", "Kesu takedown desk (demo)"),
    "email": DEFAULT_FROM_EMAIL,
    "address": env_str("KESU_ORG_ADDRESS", "1-1 Example-cho, Chiyoda-ku, Tokyo 100-0001, Japan"),
    "phone": env_str("KESU_ORG_PHONE", "+81 3-0000-0000"),
    "country": env_str("KESU_ORG_COUNTRY", "Japan"),  # a search engine form asks the requester's country
    "website": env_str("KESU_ORG_WEBSITE", "https://kesu.invalid/"),
    "signatory": env_str("KESU_ORG_SIGNATORY", "Takedown desk"),
}
KESU_HASHING_LINK_DAYS = env_int("KESU_HASHING_LINK_DAYS", 7, minimum=1, maximum=90)  # her hashing page's link
KESU_RESEND_HOURS = env_int("KESU_RESEND_HOURS", 24, minimum=1)  # Project Arachnid re-notifies every 24 h
KESU_NOTICE_EVIDENCE_HOURS = env_int("KESU_NOTICE_EVIDENCE_HOURS", 24, minimum=0)
KESU_AUTO_ESCALATE = env_bool("KESU_AUTO_ESCALATE", True)

# --- Patrol --------------------------------------------------------------------------------
KESU_PATROL_PAGE_MB = env_int("KESU_PATROL_PAGE_MB", 8, minimum=1, maximum=1024)  # a listing or item page
KESU_PATROL_MEDIA_MB = env_int("KESU_PATROL_MEDIA_MB", 200, minimum=1, maximum=16384)  # one image or video
KESU_PATROL_FETCH_SECONDS = env_int("KESU_PATROL_FETCH_SECONDS", 30, minimum=1, maximum=3600)
KESU_PATROL_LEASE_SECONDS = env_int("KESU_PATROL_LEASE_SECONDS", 300, minimum=5)  # a dead worker's claim expires
KESU_PATROL_RATE_PER_MINUTE = env_int("KESU_PATROL_RATE_PER_MINUTE", 30, minimum=1)  # hosts without a watch
KESU_PATROL_CONCURRENCY = env_int("KESU_PATROL_CONCURRENCY", 2, minimum=1, maximum=64)
KESU_PATROL_BAN_PAUSE_SECONDS = env_int("KESU_PATROL_BAN_PAUSE_SECONDS", 900, minimum=1)  # after 3 refusals in a row
KESU_PATROL_MEDIA_PER_PAGE = env_int("KESU_PATROL_MEDIA_PER_PAGE", 40, minimum=1, maximum=10000)
KESU_PATROL_RECHECK_FIRST_MINUTES = env_int("KESU_PATROL_RECHECK_FIRST_MINUTES", 60, minimum=0)
KESU_PATROL_RECHECK_HOURS = env_int("KESU_PATROL_RECHECK_HOURS", 6, minimum=1)  # while the copy is online
KESU_PATROL_WATCH_GONE_DAYS = env_int("KESU_PATROL_WATCH_GONE_DAYS", 90, minimum=0)  # then daily for re-uploads
KESU_PATROL_PRESERVE_HITS = env_bool("KESU_PATROL_PRESERVE_HITS", True)  # evidence of every page with a new hit
KESU_PATROL_KEEP_MEDIA_HOURS = env_int("KESU_PATROL_KEEP_MEDIA_HOURS", 72, minimum=0)  # unmatched downloads
# A rejected hit's medium is forgotten this long after the decision (the reviewer may take it back until then).
KESU_REJECTED_FORGET_HOURS = env_int("KESU_REJECTED_FORGET_HOURS", 24, minimum=0)
KESU_PATROL_REVERSE_SEARCH_URL = env_str("KESU_PATROL_REVERSE_SEARCH_URL")  # a reverse image search API (hashes only)
KESU_BASE_URL = env_str("KESU_BASE_URL", "http://127.0.0.1:8000")  # links in staff digests

# --- hash exchange with the field (kesu.exchange) -----------------------------------------
# StopNCII's CSP API (threatexchange's StopNCIIAPI): the subscription key and one function key per endpoint.
KESU_STOPNCII_URL = env_url("KESU_STOPNCII_URL", "https://api.stopncii.org/v1")
KESU_STOPNCII_SUBSCRIPTION_KEY = env_secret("KESU_STOPNCII_SUBSCRIPTION_KEY")
KESU_STOPNCII_FETCH_KEY = env_secret("KESU_STOPNCII_FETCH_KEY")
KESU_STOPNCII_SUBMIT_KEY = env_secret("KESU_STOPNCII_SUBMIT_KEY")
KESU_STOPNCII_FEEDBACK_KEY = env_secret("KESU_STOPNCII_FEEDBACK_KEY")
# NCMEC's hash-sharing API (threatexchange's NCMECHashAPI, HTTP basic auth): the environment's base URL (NCMEC's
# NGO environment by default; a desk on NCMEC's industry list sets https://report.cybertip.org/hashsharing).
KESU_NCMEC_URL = env_url("KESU_NCMEC_URL", "https://hashsharing.ncmec.org/npo")
KESU_NCMEC_USER = env_str("KESU_NCMEC_USER")
KESU_NCMEC_PASSWORD = env_secret("KESU_NCMEC_PASSWORD")

# --- Celery ------------------------------------------------------------------------
# Without a broker URL the filesystem transport lets the web server, worker and
# scheduler of one machine talk through the data directory: no server needed.
KESU_BROKER_URL = env_str("KESU_BROKER_URL")
_broker_dir = DATA_DIR / "broker"
CELERY_BROKER_URL = KESU_BROKER_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {}
    if KESU_BROKER_URL
    else {
        "data_folder_in": str(ensure_dir(_broker_dir / "queue")),
        "data_folder_out": str(ensure_dir(_broker_dir / "queue")),
        "processed_folder": str(ensure_dir(_broker_dir / "processed")),
        # kombu keeps its exchange table in ./control by default: the working directory, often the checkout
        "control_folder": str(ensure_dir(_broker_dir / "control")),
        "store_processed": False,
    }
)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-task leaves it queued
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the database connection before and after every task, whatever CONN_MAX_AGE
# says (a new PostgreSQL session per patrol task), unless this is set: kesu/celery.py closes it as Django
# does around a request instead, when it is broken or older than CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = 1_000_000_000
# Threads each process's native libraries (ONNX Runtime, OpenCV, OpenBLAS, faiss) may use: Kesu scales by
# processes, and a team per core in each of them fights the others for the cores (kesu/lib/threads.py).
KESU_WORKER_THREADS = env_int("KESU_WORKER_THREADS", 1, minimum=1, maximum=64)
CELERY_TASK_ALWAYS_EAGER = env_bool("KESU_TASKS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE

# Never log request bodies or personal data: only what happened and ids.
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # A victim's hashing link is a key: no log line keeps it (kesu/lib/accesslog.py; the access log too).
    "filters": {"secrets": {"()": "kesu.lib.accesslog.CutSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["secrets"]}},
    "root": {"handlers": ["console"], "level": env_choice("KESU_LOG_LEVEL", "INFO", _LOG_LEVELS)},
    # faiss announces which CPU build it loaded on every start
    "loggers": {"django.request": {"level": "ERROR"}, "faiss.loader": {"level": "WARNING"}},
}
