"""Billing in a real Chromium: tick claims in the queue, scrub them to ready (a formaction button of the
bulk form), send them as a batch, then find the batch; nothing is asked of any other host."""
import pytest

from app.extensions import db
from app.models.claims import Claim, ClaimBatch
from tests.browser.conftest import log_in
from tests.integration.claims_ui_setup import built, c  # noqa: F401  (c is a fixture)

pytestmark = pytest.mark.browser


def test_billing_scrubs_and_sends_ticked_claims(page, c):
    first = built(c)
    second = built(c, code="81002")
    log_in(page, c.user.username)
    page.goto("/claims/?status=draft")
    page.check(f"input[name=claim][value='{first.id}']")
    page.check(f"input[name=claim][value='{second.id}']")
    with page.expect_navigation():
        page.click("#bulk-ready")
    message = page.inner_text(".alert-success")
    assert "Ready to send:" in message and first.claim_number in message and second.claim_number in message
    page.goto("/claims/?status=ready")
    page.check(f"input[name=claim][value='{first.id}']")
    with page.expect_navigation():
        page.click("#bulk-send")
    assert page.url.endswith("/claims/batches")
    batch = db.session.query(ClaimBatch).one()
    assert str(batch) in page.inner_text("#batch-list")
    db.session.expire_all()
    assert [db.session.get(Claim, x.id).status for x in (first, second)] == ["submitted", "ready"]
    assert page.requests.foreign() == []

