"""A throw-away django-allauth portal on loopback: a page-only portal nobody on the team wrote.

django-allauth (with its ``mfa`` extra) and gunicorn go into their own virtual environment,
never the project's: Django and allauth are the portal under test, not the harness's
dependencies. The venv is cached under ``$NINSHO_ALLAUTH_VENV`` or
``~/.cache/ninsho/allauth-venv`` and rebuilt only when ``constraints.txt`` (every version
pinned) or the two requirements below change, so only the first run pays for the install.

Each server gets a fresh temporary folder holding a minimal Django project (allauth's own
templates, no custom ones), its SQLite database and its log. It serves with gunicorn on
127.0.0.1 in its own process group, relays mail to the harness's SMTP sink with Django's SMTP
backend, and is stopped by its process group and its folder removed when the context ends.

CLI (from the repository root, in the project's venv)::

    python -m examples.allauth_portal.server install      # warm the cache, print the time taken
    NINSHO_ALLAUTH_PASSWORD=… python -m examples.allauth_portal.server --smtp-port 2525 serve --users 3
    NINSHO_ALLAUTH_PASSWORD=… python -m examples.allauth_portal.server run --users 3 -- CMD …
    python -m examples.allauth_portal.server up            # prints a state file and the environment
    NINSHO_ALLAUTH_PASSWORD=… python -m examples.allauth_portal.server users STATE.json --count 2
    python -m examples.allauth_portal.server down STATE.json

``serve`` and ``run`` set ``NINSHO_BASE_URL``, ``NINSHO_MAILBOX_PORT``,
``NINSHO_ALLAUTH_ACCOUNTS`` (the test users' login IDs, comma-separated),
``NINSHO_ALLAUTH_PROFILE`` and ``NINSHO_ALLAUTH_BASELINE``; the password stays in
``NINSHO_ALLAUTH_PASSWORD``, which the caller set.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ALLAUTH = "django-allauth[mfa]==65.22.1"
GUNICORN = "gunicorn==27.0.1"
CONSTRAINTS = HERE / "constraints.txt"  # the versions seen to work together (pip freeze)
PROFILE = HERE / "allauth.toml"
BASELINE = HERE / "baseline.toml"
SITE_MAP = HERE / "site.toml"  # the html driver's map of allauth's own templates
PASSWORD_ENV = "NINSHO_ALLAUTH_PASSWORD"
PROJECT = "ninsho_site"  # the Django project's package inside the temporary folder
SITE_NAME = "Ninsho allauth"  # django.contrib.sites: the TOTP issuer, the mail's subject prefix
SENDER = "allauth@ninsho.test"
MAIL_DOMAIN = "ninsho.test"
START_PATH = "/accounts/login/"
INSTALL_TIMEOUT_SECONDS = 900.0
COMMAND_TIMEOUT_SECONDS = 180.0
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0


class InstallError(RuntimeError):
    """allauth could not be installed (no registry, a broken release): ``reason`` is pip's last
    line, which is what a skipped test shows."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ServerError(RuntimeError):
    """Installed, but the portal would not set up or start: never a reason to skip."""


# ACCOUNT_RATE_LIMITS for a harness run: every request comes from 127.0.0.1, so allauth's per-IP
# limits (10 failed logins, 30 logins a minute) would throttle the whole run as one client; the
# per-account ones are allauth's defaults, written out (account/app_settings.py RATE_LIMITS).
LOOPBACK_LIMITS: tuple[tuple[str, str], ...] = (
    ("login", "1000/m/ip"),
    ("login_failed", "1000/m/ip,5/300s/key"),
    ("request_login_code", "1000/m/ip,3/m/key"),
    ("reauthenticate", "100/m/user"),
)


@dataclass(frozen=True)
class Settings:
    """What a server is started with. ``None`` leaves allauth's own default in force (the
    default set-up, which allauth.toml describes); a value writes the setting, for measuring
    time-dependent behaviour in seconds rather than minutes.

    The defaults of allauth 65.22.1 these stand for: ``ACCOUNT_LOGIN_BY_CODE_TIMEOUT`` 180 s,
    ``ALLAUTH_USER_CODE_FORMAT`` 8 letters as ``XXXX-XXXX``, ``ACCOUNT_LOGIN_BY_CODE_REQUIRED`` False, ``MFA_TOTP_TOLERANCE`` 0,
    ``MFA_TRUST_COOKIE_AGE`` 14 days, ``ACCOUNT_RATE_LIMITS`` (account/app_settings.py).
    """

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 0  # the harness's SMTP sink; 0: pick a free port (nothing listens there)
    port: int = 0  # 0: pick a free port
    workers: int = 2  # gunicorn processes: the machine has 2 cores; concurrency must be real
    login_code_timeout: int | None = None  # seconds
    # True: ALLAUTH_USER_CODE_FORMAT = 8 digits, no dash, for the login and the verification codes
    # (the manuals' format; allauth's default is 8 letters as XXXX-XXXX)
    numeric_codes: bool = False
    # True: ACCOUNT_LOGIN_BY_CODE_REQUIRED = {"password"}: a mailed code after every password,
    # as a second factor (allauth's default: the mailed code is a password-free first factor)
    login_code_required: bool = False
    totp_tolerance: int | None = None  # steps either side
    trust_age_seconds: int | None = None
    # ACCOUNT_LOGIN_TIMEOUT: how long the stages after the password (TOTP, trust question) stay open
    login_timeout_seconds: int | None = None
    # SESSION_COOKIE_AGE with SESSION_SAVE_EVERY_REQUEST, so that the age counts from the last
    # request (an idle timeout, as the spec's session.idle_seconds means; Django's default counts
    # from the session's last change)
    session_idle_seconds: int | None = None
    # ACCOUNT_RATE_LIMITS entries over allauth's defaults, e.g. (("login_failed", "10/m/ip,5/20s/key"),)
    rate_limits: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Account:
    """A test user: its login ID (username) and its verified primary address ("" for none)."""

    username: str
    email: str


@dataclass
class Server:
    """A running allauth portal: where it listens, its folder, its venv and its test users."""

    base_url: str
    folder: Path
    pid: int
    settings: Settings
    venv: Path
    accounts: list[Account] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)  # None after `down`

    def environment(self) -> dict[str, str]:
        """What a command run against this server needs, the password excepted."""
        return {
            "NINSHO_BASE_URL": self.base_url,
            "NINSHO_MAILBOX_PORT": str(self.settings.smtp_port),
            "NINSHO_ALLAUTH_ACCOUNTS": ",".join(a.username for a in self.accounts),
            "NINSHO_ALLAUTH_PROFILE": str(PROFILE),
            "NINSHO_ALLAUTH_BASELINE": str(BASELINE),
        }

    def log(self) -> str:
        """gunicorn's and Django's log so far: what a failed test should show."""
        path = self.folder / "gunicorn.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def venv_dir() -> Path:
    configured = os.environ.get("NINSHO_ALLAUTH_VENV")
    return Path(configured) if configured else Path.home() / ".cache" / "ninsho" / "allauth-venv"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scratch() -> str | None:
    """Memory-backed /dev/shm when there is one: SQLite's fsyncs on a busy disk slow every
    request, and the folder is thrown away anyway."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _stamp() -> str:
    """What the cached venv was built from: a change of pins rebuilds it."""
    return f"{sys.version_info[:2]} {ALLAUTH} {GUNICORN}\n{CONSTRAINTS.read_text(encoding='utf-8')}"


def ensure_installed(folder: Path | None = None) -> Path:
    """The venv with allauth and gunicorn, built once and reused while the pins are unchanged.

    A lock file serialises two runs that find the cache cold at once (two pytest sessions), so
    neither deletes the venv the other is filling.
    """
    venv = folder or venv_dir()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = venv / "ninsho-installed.txt"
        if (
            marker.is_file()
            and marker.read_text(encoding="utf-8") == _stamp()
            and (venv / "bin" / "gunicorn").exists()
        ):
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        steps = (
            [sys.executable, "-m", "venv", str(venv)],
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "-c",
                str(CONSTRAINTS),
                ALLAUTH,
                GUNICORN,
            ],
        )
        for step in steps:
            try:
                done = subprocess.run(
                    step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False
                )
            except subprocess.TimeoutExpired:
                shutil.rmtree(venv, ignore_errors=True)
                raise InstallError(
                    f"{' '.join(step[-3:])}: no end after {INSTALL_TIMEOUT_SECONDS:.0f} s"
                ) from None
            if done.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
                raise InstallError(lines[-1] if lines else f"{step[2]} exited {done.returncode}")
        marker.write_text(_stamp(), encoding="utf-8")
        return venv


def _settings_py(folder: Path, s: Settings) -> str:
    """The Django settings: allauth's account and mfa apps as the documentation sets them up,
    the few choices a deployment must make, and nothing else. Every value is written with repr,
    so no input can become code."""
    account: dict[str, object] = {
        # The manuals' portal logs in by an ID (ECS-ID/SPS-ID) and a password.
        "ACCOUNT_LOGIN_METHODS": {"username"},
        "ACCOUNT_SIGNUP_FIELDS": ["email*", "username*", "password1*", "password2*"],
        # TOTP needs a verified address (MFA_ALLOW_UNVERIFIED_EMAIL is False by default).
        "ACCOUNT_EMAIL_VERIFICATION": "mandatory",
        # A new address is confirmed by a mailed code, as in the manuals, not by a link.
        "ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": True,
        "ACCOUNT_CHANGE_EMAIL": True,  # exactly one address per account
        "ACCOUNT_LOGIN_BY_CODE_ENABLED": True,  # "Sign in with a code" mailed to the address
        "ACCOUNT_EMAIL_SUBJECT_PREFIX": f"[{SITE_NAME}] ",  # allauth's default, written out
        "MFA_TRUST_ENABLED": True,  # "Trust this browser" after a TOTP
    }
    if s.login_code_timeout is not None:
        account["ACCOUNT_LOGIN_BY_CODE_TIMEOUT"] = s.login_code_timeout
    if s.numeric_codes:
        account["ALLAUTH_USER_CODE_FORMAT"] = {"numeric": True, "length": 8, "dashed": False}
    if s.login_code_required:
        account["ACCOUNT_LOGIN_BY_CODE_REQUIRED"] = {"password"}
    if s.totp_tolerance is not None:
        account["MFA_TOTP_TOLERANCE"] = s.totp_tolerance
    if s.trust_age_seconds is not None:
        account["MFA_TRUST_COOKIE_AGE"] = s.trust_age_seconds
    if s.rate_limits:
        account["ACCOUNT_RATE_LIMITS"] = dict(s.rate_limits)
    if s.login_timeout_seconds is not None:
        account["ACCOUNT_LOGIN_TIMEOUT"] = s.login_timeout_seconds
    if s.session_idle_seconds is not None:
        account["SESSION_COOKIE_AGE"] = s.session_idle_seconds
        account["SESSION_SAVE_EVERY_REQUEST"] = True
    database = str(folder / "db.sqlite3")
    django: dict[str, object] = {
        "SECRET_KEY": secrets.token_urlsafe(40),
        "DEBUG": False,
        "ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
        "INSTALLED_APPS": [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.sites",
            "allauth",
            "allauth.account",
            "allauth.mfa",
        ],
        "SITE_ID": 1,
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            "allauth.account.middleware.AccountMiddleware",
        ],
        "ROOT_URLCONF": f"{PROJECT}.urls",
        "WSGI_APPLICATION": f"{PROJECT}.wsgi.application",
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [],
                "APP_DIRS": True,  # allauth's own templates
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        "AUTHENTICATION_BACKENDS": [
            "django.contrib.auth.backends.ModelBackend",
            "allauth.account.auth_backends.AuthenticationBackend",
        ],
        "DATABASES": {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": database,
                # Two gunicorn workers on one file: wait for a lock, take it at a transaction's
                # start (no upgrade deadlocks), and let readers run beside a writer.
                "OPTIONS": {
                    "timeout": 20,
                    "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL;",
                },
            }
        },
        # allauth keeps its rate limits and the used TOTP codes in Django's cache. The default
        # (local memory) is per process, which with two workers halves every limit and lets a
        # replayed code through the other worker; a deployment shares one cache, as this does.
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": "ninsho_cache",
            }
        },
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "LANGUAGE_CODE": "en-us",
        "TIME_ZONE": "UTC",
        "USE_I18N": True,
        "USE_TZ": True,
        "STATIC_URL": "static/",
        "LOGIN_URL": "/accounts/login/",
        "LOGIN_REDIRECT_URL": "/accounts/2fa/",  # the MFA page: the nearest to the manuals' settings
        "ACCOUNT_LOGOUT_REDIRECT_URL": "/accounts/login/",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": s.smtp_host,
        "EMAIL_PORT": s.smtp_port,
        "EMAIL_TIMEOUT": 10,
        "DEFAULT_FROM_EMAIL": SENDER,
        "SERVER_EMAIL": SENDER,
        # Errors go to the log (gunicorn.log), not to mail_admins: a 500 must be visible.
        "LOGGING": {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"stderr": {"class": "logging.StreamHandler"}},
            "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING"}},
        },
    }
    lines = ["# Written by examples/allauth_portal/server.py for one server; thrown away after it."]
    lines += [f"{name} = {value!r}" for name, value in {**django, **account}.items()]
    return "\n".join(lines) + "\n"


URLS_PY = '''"""allauth's pages under /accounts/; / leads to the MFA page (and so, signed out, to login)."""
from django.urls import include, path
from django.views.generic.base import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/accounts/2fa/")),
    path("accounts/", include("allauth.urls")),
]
'''

WSGI_PY = f'''import os
from django.core.wsgi import get_wsgi_application
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{PROJECT}.settings")
application = get_wsgi_application()
'''

MANAGE_PY = f'''#!/usr/bin/env python
"""Django's manage.py, for an operator poking at a server that `up` left running."""
import os
import sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{PROJECT}.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
'''

SETUP_SCRIPT = """
import sys
import django
django.setup()
from django.core.management import call_command
from django.contrib.sites.models import Site
call_command("migrate", interactive=False, verbosity=0)
call_command("createcachetable", verbosity=0)
Site.objects.update_or_create(id=1, defaults={"domain": sys.argv[1], "name": sys.argv[2]})
"""

USERS_SCRIPT = """
import json
import sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from allauth.account.models import EmailAddress
spec = json.loads(sys.stdin.read())
User = get_user_model()
made = []
# One hash (allauth's default hasher, PBKDF2 with 1 000 000 iterations, half a second here) for
# the whole batch: test users that share a password may share its salt, and a pool of a hundred
# is made in a second instead of a minute, without holding the database's lock all that time.
hashed = make_password(spec["password"])
with transaction.atomic():
    start = User.objects.filter(username__startswith=spec["prefix"]).count() + 1
    for number in range(start, start + spec["count"]):
        username = f"{spec['prefix']}{number:02d}"
        email = f"{username}@{spec['domain']}" if spec["with_email"] else ""
        user = User.objects.create(username=username, email=email, password=hashed)
        if email:
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        made.append({"username": username, "email": email})
print(json.dumps(made))
"""


def _django(venv: Path, folder: Path, script: str, *args: str, stdin: str = "") -> str:
    """A Python script in the portal's venv with its Django settings; its standard output."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": f"{PROJECT}.settings",
        "PYTHONPATH": str(folder),
        "HOME": str(folder),
    }
    try:
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-c", script, *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=folder,
            env=env,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ServerError(f"a Django command: no end after {COMMAND_TIMEOUT_SECONDS:.0f} s") from None
    if done.returncode != 0:
        raise ServerError(f"a Django command exited {done.returncode}: {done.stderr[-1200:]}")
    return done.stdout


def run_django(server: Server, script: str, *args: str) -> str:
    """A Python script run with the server's Django settings (its database, its cache): for
    looking at what the portal stored. Its standard output."""
    return _django(server.venv, server.folder, script, *args)


def write_project(folder: Path, settings: Settings) -> None:
    """The Django project: settings, URLs, WSGI entry and manage.py, in ``folder``."""
    package = folder / PROJECT
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "settings.py").write_text(_settings_py(folder, settings), encoding="utf-8")
    (package / "urls.py").write_text(URLS_PY, encoding="utf-8")
    (package / "wsgi.py").write_text(WSGI_PY, encoding="utf-8")
    (folder / "manage.py").write_text(MANAGE_PY, encoding="utf-8")


def add_users(
    server: Server,
    count: int,
    password: str,
    *,
    prefix: str = "user",
    with_email: bool = True,
    domain: str = MAIL_DOMAIN,
) -> list[Account]:
    """``count`` new users ``{prefix}NN`` with ``password`` (given through standard input, never
    a command line) and, with ``with_email``, a verified primary address ``{prefix}NN@{domain}``.
    Numbering continues after the users the prefix already has."""
    if count < 1:
        return []
    if not password:
        raise ServerError(f"no password for the test users: set {PASSWORD_ENV}")
    spec = {
        "count": count,
        "prefix": prefix,
        "password": password,
        "domain": domain,
        "with_email": with_email,
    }
    made = json.loads(_django(server.venv, server.folder, USERS_SCRIPT, stdin=json.dumps(spec)))
    accounts = [Account(str(m["username"]), str(m["email"])) for m in made]
    server.accounts.extend(accounts)
    return accounts


def _wait_until_up(server: Server, log: Path) -> None:
    """Until the login page answers 200, then once more per worker, so that no timed check
    pays for a worker's first import of allauth's views and templates."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            raise ServerError(
                f"gunicorn exited {server.process.returncode}: {log.read_text(errors='replace')[-1200:]}"
            )
        try:
            if httpx.get(server.base_url + START_PATH, timeout=5.0).status_code == 200:
                for _ in range(2 * server.settings.workers):
                    httpx.get(server.base_url + START_PATH, timeout=30.0)
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ServerError(
        f"allauth did not answer within {START_TIMEOUT_SECONDS:.0f} s: {log.read_text(errors='replace')[-1200:]}"
    )


def start(settings: Settings | None = None) -> Server:
    """Install (or reuse), write a project into a new temporary folder, migrate, start."""
    chosen = settings or Settings()
    if chosen.port == 0 or chosen.smtp_port == 0:
        chosen = Settings(
            **{
                **asdict(chosen),
                "port": chosen.port or free_port(),
                "smtp_port": chosen.smtp_port or free_port(),
            }
        )
    began = time.monotonic()
    venv = ensure_installed()
    installed = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="ninsho-allauth-", dir=_scratch()))
    try:
        return _start_in(folder, venv, chosen, {"install": installed - began, "began": began})
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _start_in(folder: Path, venv: Path, settings: Settings, timings: dict[str, float]) -> Server:
    write_project(folder, settings)
    host = f"127.0.0.1:{settings.port}"
    _django(venv, folder, SETUP_SCRIPT, host, SITE_NAME)
    log = folder / "gunicorn.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": f"{PROJECT}.settings",
        "PYTHONPATH": str(folder),
        "HOME": str(folder),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(venv / "bin" / "gunicorn"),
                "--no-control-socket",
                "-w",
                str(settings.workers),
                "-b",
                host,
                "--timeout",
                "60",
                "--chdir",
                str(folder),
                f"{PROJECT}.wsgi:application",
            ],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # master and workers form one process group, stopped together
        )
    server = Server(f"http://{host}", folder, process.pid, settings, venv, [], timings, process)
    try:
        _wait_until_up(server, log)
    except BaseException:
        stop(server)
        raise
    timings["start"] = time.monotonic() - timings.pop("began") - timings["install"]
    return server


def stop(server: Server) -> None:
    """SIGTERM to gunicorn's process group (the master and its workers), SIGKILL if it lingers,
    then the folder goes."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and _alive(server):
            time.sleep(0.2)
        if _alive(server):
            os.killpg(server.pid, signal.SIGKILL)
            if server.process is not None:
                server.process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except ProcessLookupError:
        pass
    shutil.rmtree(server.folder, ignore_errors=True)


def _alive(server: Server) -> bool:
    if server.process is not None:  # our child: poll() reaps it, or it would stay a zombie
        return server.process.poll() is None
    try:
        os.kill(server.pid, 0)  # started by `up` in another process
    except ProcessLookupError:
        return False
    return True


@contextmanager
def running(settings: Settings | None = None) -> Iterator[Server]:
    """``with running() as server:`` allauth for the block, stopped and removed after it."""
    server = start(settings)
    try:
        yield server
    finally:
        stop(server)


def _state(server: Server) -> dict[str, object]:
    return {
        "base_url": server.base_url,
        "pid": server.pid,
        "folder": str(server.folder),
        "venv": str(server.venv),
        "settings": asdict(server.settings),
        "accounts": [asdict(a) for a in server.accounts],
    }


def _from_state(path: Path) -> Server:
    state = json.loads(path.read_text(encoding="utf-8"))
    raw = dict(state["settings"])
    raw["rate_limits"] = tuple(tuple(pair) for pair in raw.get("rate_limits", ()))
    return Server(
        state["base_url"],
        Path(state["folder"]),
        int(state["pid"]),
        Settings(**raw),
        Path(state["venv"]),
        [Account(**a) for a in state["accounts"]],
    )


def _print_environment(server: Server) -> None:
    for name, value in server.environment().items():
        print(f"export {name}={value}", flush=True)


def _wait_for_signal() -> None:
    """Until Ctrl-C or SIGTERM: both end in the caller's ``finally``, which stops the server."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.allauth_portal.server", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--smtp-port", type=int, default=0, help="the harness's SMTP sink port (default: a free one)"
    )
    parser.add_argument("--port", type=int, default=0, help="the portal's port (default: a free one)")
    parser.add_argument("--numeric-codes", action="store_true", help="8-digit mailed codes, no dash")
    parser.add_argument(
        "--code-after-password", action="store_true", help="a mailed code after every password"
    )
    parser.add_argument(
        "--loopback-limits",
        action="store_true",
        help="raise ACCOUNT_RATE_LIMITS' per-IP parts (a harness run is one IP), keep the per-account ones",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("install", help="build the cached venv, print how long it took")
    for name, text in (("serve", "start, print the environment, stop on Ctrl-C or SIGTERM"),
                       ("run", "start, run the command after --, stop"),
                       ("up", "start and leave running; prints the state file and the environment")):  # fmt: skip
        action = sub.add_parser(name, help=text)
        action.add_argument(
            "--users", type=int, default=0, help=f"test users to add (password: ${PASSWORD_ENV})"
        )
        if name == "run":
            action.add_argument("command", nargs=argparse.REMAINDER)
    users = sub.add_parser("users", help="add test users to a server that `up` started")
    users.add_argument("state", type=Path)
    users.add_argument("--count", type=int, default=1)
    users.add_argument("--prefix", default="user")
    users.add_argument("--no-email", action="store_true", help="users without an address")
    users.add_argument(
        "--domain", default=MAIL_DOMAIN, help=f"their addresses' domain (default {MAIL_DOMAIN})"
    )
    down = sub.add_parser("down", help="stop a server that `up` started")
    down.add_argument("state", type=Path)
    args = parser.parse_args(argv)
    if args.action == "install":
        began = time.monotonic()
        print(ensure_installed(), f"{time.monotonic() - began:.1f} s")
        return 0
    if args.action == "down":
        stop(_from_state(args.state))
        args.state.unlink(missing_ok=True)
        return 0
    password = os.environ.get(PASSWORD_ENV, "")
    if args.action == "users":
        server = _from_state(args.state)
        made = add_users(
            server, args.count, password, prefix=args.prefix, with_email=not args.no_email, domain=args.domain
        )
        args.state.write_text(json.dumps(_state(server)), encoding="utf-8")
        print(",".join(a.username for a in made))
        return 0
    if args.users and not password:
        parser.error(f"--users needs the test users' password in ${PASSWORD_ENV}")
    server = start(
        Settings(
            port=args.port,
            smtp_port=args.smtp_port,
            numeric_codes=args.numeric_codes,
            login_code_required=args.code_after_password,
            rate_limits=LOOPBACK_LIMITS if args.loopback_limits else (),
        )
    )
    keep = False  # `up` leaves it running on purpose
    try:
        add_users(server, args.users, password)
        print(
            f"allauth at {server.base_url} (install {server.timings['install']:.1f} s, "
            f"start {server.timings['start']:.1f} s)",
            file=sys.stderr,
        )
        if args.action == "up":
            state_file = server.folder.with_name(server.folder.name + ".json")
            state_file.write_text(json.dumps(_state(server)), encoding="utf-8")
            print(
                f"# state: {state_file}  (stop with: python -m examples.allauth_portal.server down {state_file})"
            )
            _print_environment(server)
            keep = True
            return 0
        if args.action == "serve":
            _print_environment(server)
            _wait_for_signal()
            return 0
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("run needs a command after --")
        return subprocess.run(command, env={**os.environ, **server.environment()}, check=False).returncode
    finally:
        if not keep:
            stop(server)


if __name__ == "__main__":
    sys.exit(main())
