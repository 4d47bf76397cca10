"""Settings for the test suite.

The database comes from the environment: ROUTINES_TEST_DB=sqlite (default), postgres or mysql,
with ROUTINES_TEST_PG_* / ROUTINES_TEST_MYSQL_* naming the server. Each pytest process gets its
own test database name, and child processes the tests start inherit it through the environment
(ROUTINES_USE_TEST_DB=1 makes them connect to it directly).
"""

import importlib.util
import os
import tempfile

SECRET_KEY = "routines-tests"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular_sidecar",
    "routines",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

ROUTINES = {
    "TARGETS": {
        "sleep": "tests.support.targets.SleepExecutor",
        "boom": "tests.support.targets.BoomExecutor",
    },
    "CALLABLE_ALLOWLIST": ["tests.support.callables.*", "tests.support.fleet_tasks.*"],
}

# Django Tasks for the `task` target: django.tasks on Django 6, else the django-tasks backport;
# the database backend (django-tasks-db) when installed. Absent packages just skip those tests.
if importlib.util.find_spec("django.tasks") or importlib.util.find_spec("django_tasks"):
    _tasks = "django.tasks" if importlib.util.find_spec("django.tasks") else "django_tasks"
    if _tasks == "django_tasks":
        INSTALLED_APPS.append("django_tasks")
    TASKS = {"default": {"BACKEND": f"{_tasks}.backends.immediate.ImmediateBackend"}}
    if importlib.util.find_spec("django_tasks_db"):
        INSTALLED_APPS.append("django_tasks_db")
        TASKS["database"] = {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "reports"]}

_suffix = os.environ.setdefault("ROUTINES_TEST_SUFFIX", str(os.getpid()))

# The scale-out tests' worker fleets (tests/system/test_scale_out.py): RQ workers on Redis through
# django-tasks-rq, Celery workers on RabbitMQ through django-tasks-fennel. Each pytest process gets
# its own queue names, so two suites on one server never take each other's work.
REDIS_URL = os.environ.get("ROUTINES_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SCALE_QUEUE = f"routines-scale-{_suffix}"
if "TASKS" in globals() and importlib.util.find_spec("django_tasks_rq"):
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    RQ_QUEUES = {SCALE_QUEUE: {"URL": REDIS_URL}, "default": {"URL": REDIS_URL}}  # results are read through "default"
    TASKS["rq"] = {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [SCALE_QUEUE]}
if "TASKS" in globals() and importlib.util.find_spec("django_tasks_fennel"):
    INSTALLED_APPS.append("django_tasks_fennel")
    TASKS["celery"] = {"BACKEND": "django_tasks_fennel.CeleryBackend", "QUEUES": [SCALE_QUEUE]}
    CELERY_BROKER_URL = os.environ.get("ROUTINES_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_RESULT_EXTENDED = True
    CELERY_IMPORTS = ["tests.support.fleet_tasks"]
    CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = False
_engine = os.environ.get("ROUTINES_TEST_DB", "sqlite")

if _engine == "postgres":
    _test_name = f"test_routines_{_suffix}"
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("ROUTINES_TEST_PG_NAME", "test"),
            "USER": os.environ.get("ROUTINES_TEST_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("ROUTINES_TEST_PG_PASSWORD", ""),
            "HOST": os.environ.get("ROUTINES_TEST_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("ROUTINES_TEST_PG_PORT", "5432"),
            "TEST": {"NAME": _test_name},
        }
    }
elif _engine == "mysql":
    _test_name = f"test_routines_{_suffix}"
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ.get("ROUTINES_TEST_MYSQL_NAME", "test"),
            "USER": os.environ.get("ROUTINES_TEST_MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("ROUTINES_TEST_MYSQL_PASSWORD", ""),
            "HOST": os.environ.get("ROUTINES_TEST_MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("ROUTINES_TEST_MYSQL_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {"NAME": _test_name, "CHARSET": "utf8mb4", "COLLATION": "utf8mb4_bin"},
        }
    }
else:
    # A file, not memory: tests that start real processes share it.
    _test_name = os.path.join(tempfile.gettempdir(), f"routines-test-{_suffix}.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(tempfile.gettempdir(), f"routines-dev-{_suffix}.sqlite3"),
            "TEST": {"NAME": _test_name},
        }
    }

if os.environ.get("ROUTINES_USE_TEST_DB"):
    DATABASES["default"]["NAME"] = _test_name
if importlib.util.find_spec("health_check"):
    INSTALLED_APPS.append("routines.contrib.health_check")
