"""The flow board in a real Chromium: one click checks a patient in, and the row moves to
"Arrived, waiting" without leaving the page."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Appointment, AuditEvent
from app.views import flow
from tests.browser.conftest import log_in
from tests.conftest import make_user
from tests.integration.test_flow_board import NOW, at
from tests.scheduling_setup import make_clinic

pytestmark = pytest.mark.browser


def test_check_in_with_one_click_moves_the_patient_to_arrived(app, page, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULING_ALLOW_PAST", True)
    monkeypatch.setattr(flow, "now", lambda: NOW)
    c = make_clinic()
    appointment = at(c, 12, 30)
    name = appointment.patient.display_name
    log_in(page, make_user("FrontDesk").username)
    page.goto(f"/flow/?location={c.location.id}")
    row = page.locator(f"#group-expected tr[data-appointment='{appointment.id}']")
    assert name in row.inner_text()

    row.get_by_role("button", name="Check in").click()
    waiting = page.locator(f"#group-waiting tr[data-appointment='{appointment.id}']")
    waiting.wait_for()
    assert name in waiting.inner_text() and "waiting" in waiting.inner_text()
    assert page.locator(f"#group-expected tr[data-appointment='{appointment.id}']").count() == 0
    assert "is checked in" in page.locator("#flow-messages").inner_text()
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).status == "arrived"
    # One click, no page load: the step was posted and the table re-fetched in the background.
    urls = [url for _, url, _ in page.requests]
    assert sum(u.endswith(f"/flow/?location={c.location.id}") for u in urls) == 1
    assert any(u.endswith(f"/flow/{appointment.id}/arrive") for u in urls)
    # The re-fetch went as a background refresh: the opening of the page is the only audit row.
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "FlowBoard")) == 1
    assert page.requests.foreign() == []
