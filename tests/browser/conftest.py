"""Browser fixtures: one Debian Chromium per session, the session's app served on 127.0.0.1.

The live server and the test share the database of the `app` fixture (a SQLite file or
a PostgreSQL database), so what a test arranges with factories the browser sees, and
tests/conftest.py wipes it after each test. Pages are closed before that wipe, so no
request is still running against the database when it is emptied.
"""
import threading
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-quic",
]
LIVE_HOST = "127.0.0.1"


@pytest.fixture(scope="session")
def playwright_instance():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance):
    """Launching takes ~2 s: one browser for the whole session."""
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def live_server(app):
    """Serve the test app on 127.0.0.1 and a free port (the OS picks it) in a background thread."""
    server = make_server(LIVE_HOST, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://{LIVE_HOST}:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


class RequestLog(list):
    """Every request the page made: (method, url, post body)."""

    def urls(self):
        return [url for _, url, _ in self]

    def foreign(self):
        """Requests to any host but the live server (data:/blob: URLs load nothing)."""
        out = []
        for _, url, _ in self:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != LIVE_HOST:
                out.append(url)
        return out


@pytest.fixture
def context(browser, live_server):
    """A fresh browser profile (no cookies) that records every request and blocks other hosts."""
    ctx = browser.new_context(base_url=live_server, locale="en-US", timezone_id="America/New_York",
                              viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    log = RequestLog()
    ctx.on("request", lambda r: log.append((r.method, r.url, r.post_data)))

    def only_local(route):
        if urlsplit(route.request.url).hostname == LIVE_HOST:
            route.continue_()
        else:
            route.abort()  # recorded above; never let it leave the machine

    ctx.route("**/*", only_local)
    ctx.requests = log
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.requests = context.requests
    yield page
    page.close()


def log_in(page, username, password=PASSWORD):
    """Log in through FAB's login form and wait for the home page."""
    page.goto("/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert "/login" not in page.url, f"login as {username} failed"
