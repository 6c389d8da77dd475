"""The billing office in a real Chromium: build claims from ready encounters, scrub them (a claim with a
problem says so and stays a draft), send the ready ones, download the 837P batch, post the payer's 835
from Billing -> Payer files and see the patient's new balance on the chart; a paper EOB typed in and
posted, an overpayment refused in the user's language; the claims queue mirrored for an Arabic user.
Data is made through the services; only the flow under test is clicked."""
import re
from decimal import Decimal

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.extensions import db
from app.models.claims import Claim, ClaimBatch
from app.models.payer_files import PayerFile
from app.models.payments import ClaimPosting, PayerPayment
from app.services import claims, posting
from tests.browser.conftest import log_in
from tests.conftest import make_user
from tests.integration.claims_ui_setup import built, c, move, ready_claims, ready_encounter  # noqa: F401
from tests.x12_payer_files import payment_for, write_835

pytestmark = pytest.mark.browser


def money_text(value):
    return f"${Decimal(value):,.2f}"


def era(c, *payments, reference):
    """An 835 from the clinic's payer naming each claim's patient (NM1*QC) as a payer does."""
    patients = {}
    for p in payments:
        claim = db.session.scalars(select(Claim).where(Claim.claim_number == p.claim_number)).one()
        patients[p.claim_number] = (claim.patient.family_name.upper(), claim.patient.given_name.upper(),
                                    claim.coverage.member_id)
    return write_835(list(payments), payer_name=c.payer.name, payer_id=c.payer.payer_code, patients=patients,
                     reference=reference)


def counts():
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (PayerFile, PayerPayment, ClaimPosting))


def status_of(claim_id):
    db.session.expire_all()
    return db.session.get(Claim, claim_id).status


def alerts(page, kind):
    return " ".join(page.locator(f".alert-{kind}").all_inner_texts())


def upload_835(page, text, name):
    page.goto("/payer-files/")
    page.set_input_files("#payer-file", files=[{"name": name, "mimeType": "text/plain", "buffer": text.encode()}])
    with page.expect_navigation():
        page.click("#upload-payer-file button[type=submit]")


def test_build_scrub_send_download_and_post_the_835(page, c, tmp_path):
    first = ready_encounter(c)
    second = ready_encounter(c, lines=({"code": "81002", "fee": "12.00", "pointers": "A"},))
    log_in(page, c.user.username)

    # Build: tick both ready encounters on Claims -> Build claims.
    page.goto("/claims/")
    with page.expect_navigation():
        page.click("#build-link")
    for encounter in (first, second):
        page.check(f"#ready-encounters input[name=encounter][value='{encounter.id}']")
    with page.expect_navigation():
        page.click("#build-chosen")
    assert "2 claims were built" in alerts(page, "success")
    good, broken = (db.session.scalars(select(Claim).where(Claim.encounter_id == e.id)).one() for e in (first, second))
    assert (good.status, broken.status) == ("draft", "draft")
    assert page.url.endswith("/claims/?status=draft")
    assert good.claim_number in page.inner_text("#claim-list") and broken.claim_number in page.inner_text("#claim-list")

    # Scrub: one claim has a problem (zero units, made through the service), it is named and stays a draft.
    claims.update_line(db.session, broken, broken.lines[0], units="0", expected_version=broken.version)
    page.reload()
    page.check(f"input[name=claim][value='{good.id}']")
    page.check(f"input[name=claim][value='{broken.id}']")
    with page.expect_navigation():
        page.click("#bulk-ready")
    assert f"Ready to send: {good.claim_number}." in alerts(page, "success")
    assert (f"Claim {broken.claim_number}: Line 1 (81002): the units must be more than zero."
            in alerts(page, "danger"))
    assert broken.claim_number not in alerts(page, "success")
    assert (status_of(good.id), status_of(broken.id)) == ("ready", "draft")

    # Send the ready claims: the batch is listed and downloads as an 837P.
    page.goto("/claims/?status=ready")
    with page.expect_navigation():
        page.click("#send-all-form button[type=submit]")
    assert page.url.endswith("/claims/batches")
    batch = db.session.scalars(select(ClaimBatch)).one()
    row = page.locator("#batch-list tbody tr", has_text=str(batch))
    assert "$100.00" in row.inner_text()
    with page.expect_download() as waiting:
        row.get_by_role("link", name="Download").click()
    path = tmp_path / "batch.837"
    waiting.value.save_as(path)
    content = path.read_text()
    assert content.startswith("ISA*")
    assert [s.split("*")[1] for s in content.split("~") if s.strip().startswith("CLM*")] == [good.claim_number]
    assert (status_of(good.id), status_of(broken.id)) == ("submitted", "draft")

    # The payer's 835 for the sent claim: uploaded, reviewed against our claim, posted.
    db.session.expire_all()
    good = db.session.get(Claim, good.id)
    text = era(c, payment_for(good, paid="80.00", patient_responsibility="20.00"), reference="EFT5550001")
    upload_835(page, text, "era.835")
    assert "The 835 file era.835 was received" in alerts(page, "success")
    review = page.locator(f"tr.cd-claim-payment[data-claim='{good.claim_number}']")
    words = " ".join(review.inner_text().split())
    assert c.patient.display_name in words and "submitted → paid" in words and "$80.00" in words
    assert page.locator("#payer-file-status").inner_text() == "received"
    with page.expect_navigation():
        page.get_by_role("button", name="Post the payments").click()
    assert "1 payment(s) posted: EFT5550001." in alerts(page, "success")
    assert status_of(good.id) == "paid"
    payment = db.session.scalars(select(PayerPayment)).one()
    assert (payment.reference, payment.amount, payment.source) == ("EFT5550001", Decimal("80.00"), "835")

    # The chart's Account panel shows the balance left to the patient.
    account = posting.patient_account(db.session, db.session.get(type(c.patient), c.patient.id))
    assert account.patient_balance == Decimal("20.00")
    page.goto(f"/patients/{c.patient.id}/chart")
    panel = page.locator("#chart-account")
    assert page.inner_text("#account-patient") == "$20.00"
    assert page.inner_text("#account-balance-total") == money_text(account.balance)
    line = panel.locator("tr.cd-account-line", has_text=good.claim_number)
    assert line.locator("td").last.inner_text() == "$20.00"
    assert "EFT5550001" in panel.inner_text()

    # The same 835 again (another name): refused, nothing stored or posted twice.
    before = counts()
    upload_835(page, text, "era-copy.835")
    refusal = alerts(page, "danger")
    assert "This file was already received on" in refusal and "the same file is never read twice" in refusal
    assert counts() == before == (1, 1, 1)
    assert page.requests.foreign() == []


# ------------------------------------------------------------------ a paper EOB typed in

def sent(c, code):
    """A claim of $100.00 sent to the payer."""
    return move(c, built(c, code=code), "ready", "submitted")


def start_payment(page, c, claim, *, amount, reference, charge="$100.00"):
    page.goto("/payments/new")
    page.select_option("#payer", str(c.payer.id))
    page.select_option("#method", "check")
    page.fill("#reference", reference)
    page.fill("#paid_date", "2026-02-10")
    page.fill("#amount", amount)
    page.fill("#claim_numbers", claim.claim_number)
    with page.expect_navigation():
        page.click("#payment-continue")
    entry = page.locator(f"fieldset#claim-{claim.claim_number}")
    assert charge in entry.locator(".panel-heading").inner_text().replace("\xa0", " ")
    return entry


def test_a_paper_eob_is_previewed_then_posted(page, c):
    claim = sent(c, "99213")
    log_in(page, c.user.username)
    entry = start_payment(page, c, claim, amount="80.00", reference="EOB-77")
    page.fill("#c0-paid", "80.00")
    page.fill("#c0-pr", "0")
    page.fill("#c0-icn", "PAYER123")
    entry.locator("input[name='c0-l1-paid']").fill("80.00")
    entry.locator("input[name='c0-l1-adj']").fill("CO-45 20.00")
    with page.expect_navigation():
        page.click("#payment-preview-button")
    preview = page.locator("#payment-preview")
    words = " ".join(preview.inner_text().split())
    assert claim.claim_number in words and "submitted → paid" in words and "Total paid on the claims: $80.00" in words
    assert counts()[1] == 0  # a preview posts nothing
    with page.expect_navigation():
        page.click("#payment-post")
    assert "Payment EOB-77 posted: 1 claim, $80.00." in alerts(page, "success")
    assert re.search(r"/payments/\d+$", page.url)
    assert "CO-45" in page.inner_text("body")
    db.session.expire_all()
    payment = db.session.scalars(select(PayerPayment)).one()
    assert (payment.reference, payment.amount, payment.source, payment.method) == (
        "EOB-77", Decimal("80.00"), "manual", "check")
    claim = db.session.get(Claim, claim.id)
    assert (claim.status, claim.payer_claim_control_number) == ("paid", "PAYER123")
    balance = posting.claim_balance(db.session, claim)
    assert (balance.payer_paid, balance.adjustments, balance.balance) == (
        Decimal("80.00"), Decimal("20.00"), Decimal("0.00"))
    assert page.requests.foreign() == []


def test_an_overpayment_is_refused_in_the_users_language_and_nothing_is_posted(app, page, c):
    claim = sent(c, "81002")
    user = make_user("Billing", username="lucia")
    user.locale = "es"
    db.session.commit()
    log_in(page, user.username)
    entry = start_payment(page, c, claim, amount="180,00", reference="EOB-99",
                          charge="100,00 US$")
    page.fill("#c0-paid", "180,00")
    page.fill("#c0-pr", "0")
    entry.locator("input[name='c0-l1-paid']").fill("180,00")
    entry.locator("input[name='c0-l1-adj']").fill("CO-45 -80,00")
    with page.expect_navigation():
        page.click("#payment-preview-button")
    with app.test_request_context(), force_locale("es"):
        expected = str(_l("Claim %(number)s: the payment of %(paid)s is more than the claim's balance (%(open)s).",
                          number=claim.claim_number, paid=posting._fmt(Decimal("180")),
                          open=posting._fmt(Decimal("100"))))
        nothing = str(_l("Nothing was posted."))
    assert expected.startswith("Reclamación ") and "180,00" in expected  # the Spanish catalog's message
    problems = page.inner_text("#payment-problems")
    assert expected in problems and nothing in problems
    assert page.locator("#payment-preview").count() == 0 and page.locator("#payment-post").count() == 0
    assert counts()[1:] == (0, 0)
    assert status_of(claim.id) == "submitted"


# ------------------------------------------------------------------ right to left

def test_the_claims_queue_reads_right_to_left_in_arabic(page, c):
    ready_claims(c, 2)
    user = make_user("Billing", username="karim")
    user.locale = "ar"
    db.session.commit()
    log_in(page, user.username)
    page.goto("/claims/?status=ready")
    html = page.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    heads = page.locator("#claim-list thead th")
    first, last = heads.first.bounding_box(), heads.last.bounding_box()
    assert first and last and first["x"] > last["x"], "the first column (the tick box) is the rightmost"
    cells = page.locator("#claim-list tbody tr").first.locator("td")
    assert cells.first.bounding_box()["x"] > cells.last.bounding_box()["x"]
    box = cells.first.locator("input[type=checkbox]").bounding_box()
    assert box["x"] > page.viewport_size["width"] / 2
    assert page.locator("#claim-list tbody tr").count() == 2
    assert page.requests.foreign() == []
