"""Pages served under a real host name load nothing from other hosts either.

Some front-end code behaves differently on localhost: Swagger UI, for one, shows an
online-validator badge (an image from validator.swagger.io carrying our spec's address)
only when the page's URL contains neither "localhost" nor "127.0.0.1". The other browser
tests use 127.0.0.1, so this one maps a made-up name to the live server.
"""
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.conftest import make_user
from tests.factories import PatientFactory

pytestmark = pytest.mark.browser

HOST = "clinicdesk.test"


@pytest.fixture
def named_host_page(playwright_instance, live_server):
    port = urlsplit(live_server).port
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + [f"--host-resolver-rules=MAP {HOST} 127.0.0.1"]
    )
    ctx = browser.new_context(base_url=f"http://{HOST}:{port}")
    ctx.set_default_timeout(10_000)
    seen, foreign = [], []

    def only_ours(route):
        seen.append(route.request.url)
        if urlsplit(route.request.url).hostname == HOST:
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    ctx.route("**/*", only_ours)
    page = ctx.new_page()
    page.seen, page.foreign = seen, foreign
    yield page
    ctx.close()
    browser.close()


def test_swagger_home_search_and_chart_under_a_host_name_load_nothing_from_elsewhere(named_host_page):
    page = named_host_page
    patient = PatientFactory(family_name="García", given_name="José")
    admin = make_user("Admin")
    log_in(page, admin.username)
    page.locator("#patient-search-q").press_sequentially("garcia", delay=30)
    page.wait_for_selector(f"#patient-search-results tbody tr:has-text('{patient.mrn}')")
    page.goto(f"/patients/{patient.id}/chart")
    page.wait_for_selector("#patient-chart")
    page.goto("/swagger/v1")
    page.wait_for_selector("#swagger-ui .info", timeout=15_000)  # the spec has loaded and rendered
    page.wait_for_load_state("networkidle")
    assert any(u.endswith("/api/v1/_openapi") for u in page.seen), page.seen
    assert page.foreign == []
