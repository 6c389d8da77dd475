"""Configuration classes. Every secret and URL comes from the environment."""
import base64
import hashlib
import os

BASE_DIR = os.path.abspath(os.path.dirname(__file__))
INSTANCE_DIR = os.environ.get("CLINICDESK_INSTANCE", os.path.join(BASE_DIR, "instance"))

_DEV_SECRET = "dev-only-not-secret"
# Field encryption key for development and tests only (a valid Fernet key, not secret).
DEV_FIELD_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"clinicdesk development field key").digest()).decode()


def _database_url():
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(INSTANCE_DIR, "clinicdesk.db")
    if url.startswith("postgres://"):  # Heroku-style scheme
        url = "postgresql://" + url[len("postgres://"):]
    return url


# Interface languages the clinic can offer: code -> (FAB flag sprite, the language's own
# name for the switcher). Codes are the catalog directories under translations/ and what
# ClinicUser.locale stores; "zh" is Simplified Chinese (the code of FAB's own catalog and
# CLDR's zh = zh_Hans_CN).
INTERFACE_LANGUAGES = {
    "en": ("us", "English"),
    "es": ("es", "Español"),
    "fr": ("fr", "Français"),
    "pt_BR": ("br", "Português (Brasil)"),
    "vi": ("vn", "Tiếng Việt"),
    "zh": ("cn", "简体中文"),
    "ar": ("sa", "العربية"),
    "ru": ("ru", "Русский"),
}


def interface_languages(value=None):
    """FAB's LANGUAGES dict for a comma-separated list of codes (CLINIC_LANGUAGES; all by default).

    An unknown code stops the start: a typo must not silently drop a language.
    """
    if value is None:
        value = os.environ.get("CLINIC_LANGUAGES", "")
    by_key = {code.lower().replace("-", "_"): code for code in INTERFACE_LANGUAGES}
    codes = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        code = by_key.get(part.lower().replace("-", "_"))
        if code is None:
            raise RuntimeError(f"CLINIC_LANGUAGES: unknown language {part!r}; "
                               f"choose from {', '.join(INTERFACE_LANGUAGES)}")
        if code not in codes:
            codes.append(code)
    codes = codes or list(INTERFACE_LANGUAGES)
    return {code: {"flag": INTERFACE_LANGUAGES[code][0], "name": INTERFACE_LANGUAGES[code][1]} for code in codes}


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


class Config:
    APP_NAME = "ClinicDesk"
    CLINIC_NAME = os.environ.get("CLINIC_NAME", "ClinicDesk Family Practice")
    CLINIC_ADDRESS = os.environ.get("CLINIC_ADDRESS", "100 Main Street, Springfield, MA 01103")
    CLINIC_PHONE = os.environ.get("CLINIC_PHONE", "(413) 555-0100")
    # Default country for phone numbers typed without a country code.
    CLINIC_COUNTRY = os.environ.get("CLINIC_COUNTRY", "US")
    CLINIC_DEFAULT_LANGUAGE = os.environ.get("CLINIC_DEFAULT_LANGUAGE", "en")
    CLINIC_CURRENCY = os.environ.get("CLINIC_CURRENCY", "USD")  # ISO 4217; amounts shown by the `money` filter
    SECRET_KEY = os.environ.get("SECRET_KEY", _DEV_SECRET)
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    # Flask-AppBuilder
    FAB_CREATE_DB = False  # schema comes from Alembic migrations only
    FAB_UPDATE_PERMS = False  # permissions are written by `flask clinic sync-roles`
    FAB_ADD_SECURITY_API = False
    FAB_API_SWAGGER_UI = True
    FAB_INDEX_VIEW = "app.views.home.HomeView"
    FAB_SECURITY_MANAGER_CLASS = "app.security.ClinicSecurityManager"
    FAB_PASSWORD_HASH_METHOD = "scrypt"
    AUTH_TYPE = 1  # AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False
    AUTH_RATE_LIMITED = True
    AUTH_RATE_LIMIT = "10 per 5 minutes"
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    REDIS_URL = os.environ.get("REDIS_URL")

    # Babel
    # Interface languages (app/i18n.py picks one per request: the user's choice, else the
    # browser's Accept-Language, else the default: English, or the first listed without it).
    LANGUAGES = interface_languages()
    BABEL_DEFAULT_LOCALE = "en" if "en" in LANGUAGES else next(iter(LANGUAGES))
    BABEL_DEFAULT_TIMEZONE = os.environ.get("CLINIC_TIMEZONE", "America/New_York")
    # Absolute: Flask-Babel would resolve a relative path against app/. FAB puts its own
    # catalogs before this one; ours are merged last, so our translations win.
    TRANSLATIONS_DIR = os.path.join(BASE_DIR, "translations")
    BABEL_TRANSLATION_DIRECTORIES = TRANSLATIONS_DIR

    # Mail (reminders, letters) — used by later capabilities.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "clinic@localhost")
    MAIL_TIMEOUT = int(os.environ.get("MAIL_TIMEOUT", "30"))  # seconds per SMTP operation
    # Appointment reminders (`flask clinic send-reminders`): queued this many hours before the
    # visit; a reminder the mail server refused this many times is marked failed.
    REMINDER_LEAD_HOURS = int(os.environ.get("REMINDER_LEAD_HOURS", "48"))
    REMINDER_MAX_ATTEMPTS = int(os.environ.get("REMINDER_MAX_ATTEMPTS", "5"))

    # HTTP: behind a TLS-terminating proxy set BEHIND_PROXY=1 (trust X-Forwarded-*)
    # and FORCE_HTTPS=1 (redirect plain HTTP).
    BEHIND_PROXY = _bool("BEHIND_PROXY")
    FORCE_HTTPS = _bool("FORCE_HTTPS")
    UPLOAD_FOLDER = os.path.join(INSTANCE_DIR, "uploads")  # outside the web root
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_MB", "20")) * 1024 * 1024
    # Largest document filed to a chart (app/services/documents.py); kept below MAX_CONTENT_LENGTH.
    DOCUMENT_MAX_MB = int(os.environ.get("DOCUMENT_MAX_MB", "15"))

    # Cookies
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE")
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    # Sign-in hardening (app/auth_manager.py, app/services/auth.py). The login throttle
    # is AUTH_RATE_LIMIT above, shared by the form, the second step and the API login;
    # with several processes point RATELIMIT_STORAGE_URI at Redis (redis://host:6379/0).
    FAB_PASSWORD_COMPLEXITY_ENABLED = True  # the validator is the clinic policy (NIST 800-63B)
    PASSWORD_MIN_LENGTH = int(os.environ.get("PASSWORD_MIN_LENGTH", "12"))
    PASSWORD_MAX_LENGTH = int(os.environ.get("PASSWORD_MAX_LENGTH", "128"))
    AUTH_LOCKOUT_THRESHOLD = int(os.environ.get("AUTH_LOCKOUT_THRESHOLD", "5"))  # 0: never lock
    AUTH_LOCKOUT_MINUTES = int(os.environ.get("AUTH_LOCKOUT_MINUTES", "0"))  # 0: until an admin unlocks
    MFA_REQUIRED_ROLES = [r.strip() for r in os.environ.get("MFA_REQUIRED_ROLES", "").split(",") if r.strip()]
    MFA_ISSUER = os.environ.get("MFA_ISSUER", "ClinicDesk")  # the name authenticator apps show
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "15"))
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", "12"))
    # Fernet key(s) for encrypted columns, comma-separated, newest first (app/services/crypto.py).
    FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY") or DEV_FIELD_KEY

    # Audit trail: anchor the chain head to an append-only file every N events.
    AUDIT_ANCHOR_EVERY = int(os.environ.get("AUDIT_ANCHOR_EVERY", "100"))
    AUDIT_ANCHOR_FILE = os.environ.get("AUDIT_ANCHOR_FILE")  # default: instance/audit-anchor.log

    # Patient letters: the clinic's edited copies (instance/letters) win over the shipped ones.
    LETTER_TEMPLATE_DIRS = [os.path.join(INSTANCE_DIR, "letters"), os.path.join(BASE_DIR, "letters")]

    # Break-glass: how long a reasoned opening of a restricted record lasts.
    BREAK_GLASS_MINUTES = int(os.environ.get("BREAK_GLASS_MINUTES", "60"))

    # Patient search
    PATIENT_SEARCH_LIMIT = 20

    # Reports (app/reports/, definitions in reports/): longest query, and rows per output.
    REPORT_TIMEOUT_SECONDS = int(os.environ.get("REPORT_TIMEOUT_SECONDS", "30"))
    REPORT_HTML_ROWS = int(os.environ.get("REPORT_HTML_ROWS", "2000"))
    REPORT_PDF_ROWS = int(os.environ.get("REPORT_PDF_ROWS", "1000"))  # WeasyPrint: ~0.1 s a page
    REPORT_CSV_ROWS = int(os.environ.get("REPORT_CSV_ROWS", "50000"))

    # Scheduling: whether a booking may start in the past (entering a visit after the fact),
    # and the spacing of the slot finder's offers in minutes (0 = the appointment's length).
    SCHEDULING_ALLOW_PAST = _bool("SCHEDULING_ALLOW_PAST")
    SCHEDULING_SLOT_STEP = int(os.environ.get("SCHEDULING_SLOT_STEP", "0"))
    # Telehealth visits: the join link made for each booking ({token} is replaced by a random
    # one); unset means staff paste the link from the video service when booking.
    TELEHEALTH_URL_TEMPLATE = os.environ.get("TELEHEALTH_URL_TEMPLATE")

    # Backups (HIPAA 164.308(a)(7)): `flask clinic backup` / `flask clinic restore`.
    # Outside production a fixed development key stands in when none is set.
    BACKUP_DIR = os.environ.get("BACKUP_DIR", os.path.join(INSTANCE_DIR, "backups"))
    BACKUP_DEV_KEY = "development-only-backup-key-not-secret"
    BACKUP_ENCRYPTION_KEY = os.environ.get("BACKUP_ENCRYPTION_KEY") or BACKUP_DEV_KEY


class DevelopmentConfig(Config):
    DEBUG = False


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    FAB_PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashes in tests only
    RATELIMIT_ENABLED = False
    AUTH_RATE_LIMITED = False
    WTF_CSRF_ENABLED = True
    MFA_REQUIRED_ROLES = []  # tests that need it turn it on


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    BACKUP_ENCRYPTION_KEY = os.environ.get("BACKUP_ENCRYPTION_KEY")  # no fallback: `backup` refuses without it
    FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY")  # no fallback: check() refuses without it

    @classmethod
    def check(cls):
        """Refuse to start with a development secret or a weak one."""
        key = os.environ.get("SECRET_KEY", "")
        if not key or key == _DEV_SECRET or len(key) < 32:
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (python -c 'import secrets; print(secrets.token_hex(32))')."
            )
        from app.services.crypto import parse_keys

        field_key = os.environ.get("FIELD_ENCRYPTION_KEY", "")
        try:
            parse_keys(field_key)
            problem = "is the development key" if DEV_FIELD_KEY in [k.strip() for k in field_key.split(",")] else None
        except ValueError as exc:
            problem = f"is not usable: {exc}"
        if problem:
            raise RuntimeError(
                f"FIELD_ENCRYPTION_KEY {problem}. Production needs its own key to encrypt secrets at rest "
                "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
