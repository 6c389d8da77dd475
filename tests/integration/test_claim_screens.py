"""The claim screens as each role uses them: the work queue (filters, counts, audited names), denied
claims, building claims, the claim page (lines, transitions, stale saves, corrections), bulk
scrub / send / print, batch downloads (pyx12-valid, audited), the chart panels and the home card.
Every bad input gets a clear message and changes nothing."""
import json
import re
import subprocess

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent
from app.models.billing import BillingSettings, Encounter
from app.models.claims import Claim, ClaimBatch, ClaimStatusChange
from app.services import claim_batches, claims
from tests.factories import PatientFactory
from tests.integration.claims_ui_setup import (  # noqa: F401  (c is a fixture)
    assert_valid_837p, built, c, move, ready_claims, ready_encounter, segments)


def page(resp):
    return resp.get_data(as_text=True)


def flashes(client):
    with client.session_transaction() as sess:
        return [str(m) for _, m in sess.pop("_flashes", [])]


def post(client, url, data=None, **kw):
    return client.post(url, data=dict({"csrf_token": client.csrf_token}, **(data or {})), **kw)


def state(claim_id):
    db.session.expire_all()
    claim = db.session.get(Claim, claim_id)
    return (claim.status, claim.version, len(claim.status_changes), claim.prior_authorization,
            [(line.code, line.units, line.charge, line.pointers, line.modifiers) for line in claim.lines])


def details(event):
    return json.loads(event.details) if isinstance(event.details, str) else event.details


def denied(client, resp):
    """FAB refuses with 403, or with its "Access is Denied" flash and a redirect."""
    return resp.status_code == 403 or (resp.status_code == 302 and "Access is Denied" in " ".join(flashes(client)))


def events(action=None, object_type=None):
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    return db.session.scalars(query.order_by(AuditEvent.id)).all()


# ------------------------------------------------------------------ the work queue

def test_billing_sees_the_queue_with_counts_and_the_names_shown_are_audited(client, login_as, c):
    draft = built(c)
    (ready,) = ready_claims_of(c, "81002")
    login_as("Billing")
    html = page(client.get("/claims/"))
    assert draft.claim_number in html and ready.claim_number in html
    assert c.patient.display_name in html
    assert re.search(r'id="count-draft">[^<]*<span class="badge">1</span>', html)
    assert re.search(r'id="count-ready">[^<]*<span class="badge">1</span>', html)
    event = details(events("view", "ClaimWorklist")[-1])
    assert event["patients"] == [c.patient.id] and event["rows"] == 2
    # filters: status by link, claim number by POST (not in the URL), payer, dates
    html = page(client.get("/claims/?status=ready"))
    assert ready.claim_number in html and draft.claim_number not in html
    html = page(post(client, "/claims/", {"status": "all", "number": draft.claim_number.lower()}))
    assert draft.claim_number in html and ready.claim_number not in html
    html = page(post(client, "/claims/", {"status": "all", "payer": str(c.other_payer.id)}))
    assert "No claims match this filter." in html
    html = page(post(client, "/claims/", {"status": "all", "from": "01/13/2026"}))
    assert "No claims match this filter." in html
    html = page(post(client, "/claims/", {"status": "all", "from": "01/12/2026", "to": "01/12/2026"}))
    assert draft.claim_number in html and ready.claim_number in html
    html = page(post(client, "/claims/", {"status": "all", "from": "yesterday"}))
    assert "Write the date as 12/31/1987." in html


def ready_claims_of(c, code):
    claim = built(c, code=code)
    move(c, claim, "ready")
    return [claim]


def test_the_office_manager_reads_the_queue_but_changes_nothing(client, login_as, c):
    claim = built(c)
    login_as("OfficeManager")
    html = page(client.get("/claims/"))
    assert claim.claim_number in html
    assert "bulk-ready" not in html and "Build claims" not in html
    html = page(client.get(f"/claims/{claim.id}"))
    assert "transition-form" not in html and "line-form" not in html
    before = state(claim.id)
    resp = post(client, f"/claims/{claim.id}/status", {"to_status": "void", "version": claim.version})
    assert denied(client, resp)
    assert state(claim.id) == before


def test_the_front_desk_sees_claim_status_on_the_chart_only(client, login_as, c):
    claim = built(c, code="99214")
    login_as("FrontDesk")
    assert denied(client, client.get("/claims/"))
    html = page(client.get(f"/patients/{c.patient.id}/chart"))
    panel = html[html.index('id="chart-claim_status"'):]
    panel = panel[:panel.index("</table>")]
    assert claim.claim_number in panel and "Acme Health" in panel and "Jan 12, 2026" in panel and "draft" in panel
    for hidden in ("99214", "100.00", "E11.9", "E119", "I10", "/claims/"):
        assert hidden not in panel, hidden
    assert 'id="chart-claims"' not in html  # not the billing panel
    assert "/claims/" not in html


def test_billing_sees_the_chart_panel_with_amounts(client, login_as, c):
    claim = built(c)
    login_as("Billing")
    html = page(client.get(f"/patients/{c.patient.id}/chart"))
    panel = html[html.index('id="chart-claims"'):]
    assert claim.claim_number in panel and "$100.00" in panel and f"/claims/{claim.id}" in panel
    assert 'id="chart-claim_status"' not in html


def test_the_home_card_counts_ready_rejected_and_denied_claims(client, login_as, c):
    login_as("Billing")
    assert 'id="card-claims"' not in page(client.get("/"))  # nothing to do: no card
    ready_claims_of(c, "99213")
    rejected = ready_claims_of(c, "81002")[0]
    move(c, rejected, "submitted", "rejected")
    denied = ready_claims_of(c, "93000")[0]
    move(c, denied, "submitted", "accepted", "denied")
    html = page(client.get("/"))
    card = html[html.index('id="card-claims"'):]
    card = card[:card.index("</section>")]
    assert "1 ready to send" in card and "1 rejected" in card and "1 denied" in card
    assert "/claims/?status=ready" in card and "/claims/?status=rejected" in card and "/claims/denied" in card


def test_the_denied_queue_shows_the_reason(client, login_as, c):
    (claim,) = ready_claims_of(c, "99213")
    move(c, claim, "submitted", "accepted")
    move(c, claim, "denied", note="CO-50: not deemed a medical necessity")
    other = built(c, code="81002")
    login_as("OfficeManager")
    html = page(client.get("/claims/denied"))
    assert claim.claim_number in html and "CO-50: not deemed a medical necessity" in html
    assert other.claim_number not in html
    assert details(events("view", "ClaimWorklist")[-1]) == {"status": "denied", "rows": 1,
                                                            "patients": [c.patient.id]}


# ------------------------------------------------------------------ building claims

def test_build_claims_for_the_ticked_or_all_ready_encounters(client, login_as, c):
    one = ready_encounter(c)
    two = ready_encounter(c, lines=({"code": "81002", "fee": "12.00", "pointers": "A"},))
    uninsured = ready_encounter(c, patient=PatientFactory())
    login_as("Billing")
    html = page(client.get("/claims/build"))
    assert all(f'value="{e.id}"' in html for e in (one, two, uninsured))
    resp = post(client, "/claims/build", {"encounter": [str(one.id)]})
    assert resp.status_code == 302
    messages = flashes(client)
    assert any("1 claims were built" in m for m in messages), messages
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 1
    post(client, "/claims/build", {"all": "1"})
    messages = flashes(client)
    assert any("1 claims were built" in m for m in messages), messages
    assert any("no active primary coverage" in m and uninsured.patient.mrn in m for m in messages), messages
    assert sorted(db.session.scalars(select(Claim.encounter_id))) == sorted([one.id, two.id])


def test_build_with_nothing_ticked_says_so(client, login_as, c):
    ready_encounter(c)
    login_as("Billing")
    post(client, "/claims/build", {"encounter": ["x", "999999"]})
    messages = flashes(client)
    assert "1 of the chosen encounters do not exist (any more): they were left out." in messages
    assert "Choose at least one encounter that is ready to bill." in messages
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 0


# ------------------------------------------------------------------ the claim page

def test_the_claim_page_shows_the_claim_its_problems_history_and_only_allowed_transitions(client, login_as, c):
    claim = built(c)
    claims.update_line(db.session, claim, claim.lines[0], units="0", expected_version=claim.version)
    login_as("Billing")
    html = page(client.get(f"/claims/{claim.id}"))
    for text in (claim.claim_number, c.patient.display_name, "Acme Health", "XYZ123456", "1 — original",
                 "E11.9", "I10", "99213", "Line 1 (99213): the units must be more than zero.", "billing1"):
        assert text in html, text
    buttons = re.findall(r'name="to_status" value="(\w+)"', html)
    assert buttons == list(claims.TRANSITIONS["draft"])
    assert events(object_type="Claim")[-1].patient_id == c.patient.id


def test_a_draft_line_is_edited_and_a_stale_save_changes_nothing(client, login_as, c):
    claim = built(c)
    login_as("Billing")
    html = page(client.get(f"/claims/{claim.id}?edit={claim.lines[0].id}"))
    assert 'id="line-form"' in html
    version = claim.version
    resp = post(client, f"/claims/{claim.id}/lines/{claim.lines[0].id}", {
        "version": version, "code": "99214", "modifiers": "25", "units": "2", "charge": "240.00",
        "place_of_service": "11", "pointers": "B A"})
    assert resp.status_code == 302 and "The line was changed." in flashes(client)
    after = state(claim.id)
    assert after[4] == [("99214", 2, 240, [2, 1], ["25"])]
    # the same form again, with the version seen before the first save: refused as stale
    resp = post(client, f"/claims/{claim.id}/lines/{claim.lines[0].id}", {
        "version": version, "code": "99215", "modifiers": "", "units": "1", "charge": "1.00",
        "place_of_service": "11", "pointers": "A"})
    assert any("Someone else changed this record" in m for m in flashes(client))
    assert state(claim.id) == after
    # bad values: each named, nothing saved
    resp = post(client, f"/claims/{claim.id}/lines/{claim.lines[0].id}", {
        "version": after[1], "code": "99214", "units": "two", "charge": "1", "place_of_service": "11",
        "pointers": "Z"})
    messages = flashes(client)
    assert "Enter a number." in messages and "Point at diagnoses A to L." in messages
    assert state(claim.id) == after


def test_transitions_through_the_page_and_an_illegal_one_is_refused(client, login_as, c):
    claim = built(c)
    login_as("Billing")
    resp = post(client, f"/claims/{claim.id}/status", {"to_status": "ready", "version": claim.version})
    assert f"Claim {claim.claim_number} is now ready to send." in flashes(client)
    assert state(claim.id)[0] == "ready"
    before = state(claim.id)
    post(client, f"/claims/{claim.id}/status", {"to_status": "paid", "version": before[1]})
    assert flashes(client) == [f"Claim {claim.claim_number} is ready to send: it cannot become paid."]
    post(client, f"/claims/{claim.id}/status", {"to_status": "nonsense", "version": before[1]})
    (message,) = flashes(client)
    assert message.startswith(f"Claim {claim.claim_number} is ready to send: it cannot become ")
    post(client, f"/claims/{claim.id}/status", {"to_status": "draft", "version": before[1] - 1})
    assert any("Someone else changed this record" in m for m in flashes(client))
    assert state(claim.id) == before
    post(client, f"/claims/{claim.id}/status", {"to_status": "submitted", "version": before[1],
                                                "note": "Mailed on paper"})
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert claim.status == "submitted" and claim.status_changes[-1].note == "Mailed on paper"
    assert db.session.get(Encounter, claim.encounter_id).status == "billed"


def test_a_submitted_claim_cannot_be_edited(client, login_as, c):
    (claim,) = ready_claims_of(c, "99213")
    move(c, claim, "submitted")
    login_as("Billing")
    html = page(client.get(f"/claims/{claim.id}?edit={claim.lines[0].id}"))
    assert 'id="line-form"' not in html and 'id="refresh-form"' not in html
    before = state(claim.id)
    post(client, f"/claims/{claim.id}/lines/{claim.lines[0].id}", {
        "version": before[1], "code": "99214", "units": "1", "charge": "1", "place_of_service": "11",
        "pointers": "A"})
    assert flashes(client) == [f"Claim {claim.claim_number} is submitted: it can only be changed while it is a "
                               "draft."]
    post(client, f"/claims/{claim.id}/refresh", {"version": before[1]})
    post(client, f"/claims/{claim.id}/prior-authorization", {"version": before[1], "prior_authorization": "A1"})
    assert len(flashes(client)) == 2
    assert state(claim.id) == before


def test_an_unknown_claim_says_so(client, login_as, c):
    login_as("Billing")
    for request in (lambda: client.get("/claims/999999"),
                    lambda: post(client, "/claims/999999/status", {"to_status": "void"}),
                    lambda: post(client, "/claims/999999/lines/1", {"code": "99213"}),
                    lambda: client.get("/claims/999999/cms1500/full"),
                    lambda: client.get("/claims/batches/999999/download")):
        assert request().status_code == 302
        assert flashes(client) in (["This claim does not exist."], ["This batch does not exist."])
    assert db.session.scalar(select(func.count()).select_from(ClaimStatusChange)) == 0


def test_prior_authorization_refresh_and_correction_through_the_page(client, login_as, c):
    claim = built(c)
    login_as("Billing")
    post(client, f"/claims/{claim.id}/prior-authorization", {"version": claim.version,
                                                             "prior_authorization": " AUTH-991 "})
    assert state(claim.id)[3] == "AUTH-991"
    post(client, f"/claims/{claim.id}/prior-authorization", {"version": state(claim.id)[1],
                                                             "prior_authorization": "X" * 51})
    assert flashes(client)[-1] == "At most 50 characters."
    assert state(claim.id)[3] == "AUTH-991"
    post(client, f"/claims/{claim.id}/prior-authorization", {"version": state(claim.id)[1],
                                                             "prior_authorization": ""})
    assert state(claim.id)[3] is None
    post(client, f"/claims/{claim.id}/refresh", {"version": state(claim.id)[1]})
    assert "The diagnoses and lines were taken again from the encounter." in flashes(client)
    claim = db.session.get(Claim, claim.id)
    move(c, claim, "ready", "submitted", "accepted")
    # no payer claim control number yet: refused, nothing created
    post(client, f"/claims/{claim.id}/correct", {"version": claim.version, "kind": "replace"})
    assert any("has no payer claim control number yet" in m for m in flashes(client))
    claims.set_payer_control_number(db.session, claim, "ICN777")
    html = page(client.get(f"/claims/{claim.id}"))
    assert 'id="correct-replace"' in html and "ICN777" in html
    resp = post(client, f"/claims/{claim.id}/correct", {"version": claim.version, "kind": "replace"})
    new = db.session.scalars(select(Claim).where(Claim.original_claim_id == claim.id)).one()
    assert resp.headers["Location"].endswith(f"/claims/{new.id}")
    html = page(client.get(f"/claims/{new.id}"))
    assert "7 — replacement" in html and claim.claim_number in html and "ICN777" in html
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 2


# ------------------------------------------------------------------ bulk actions

def test_bulk_scrub_and_mark_ready_reports_per_claim(client, login_as, c):
    clean = built(c)
    broken = built(c, code="81002")
    claims.update_line(db.session, broken, broken.lines[0], units="0", expected_version=broken.version)
    login_as("Billing")
    post(client, "/claims/ready", {"claim": [str(clean.id), str(broken.id)]})
    messages = flashes(client)
    assert f"Ready to send: {clean.claim_number}." in messages
    assert f"Claim {broken.claim_number}: Line 1 (81002): the units must be more than zero." in messages
    assert (state(clean.id)[0], state(broken.id)[0]) == ("ready", "draft")
    post(client, "/claims/ready", {})
    assert flashes(client) == ["Choose at least one draft claim."]


def test_send_from_the_queue_and_download_the_batch(client, login_as, c):
    first, second = ready_claims(c, 2)
    draft = built(c, code="93000")
    login_as("Billing")
    # a claim not ready among the chosen: nothing is sent
    post(client, "/claims/send", {"claim": [str(first.id), str(draft.id)]})
    assert flashes(client) == [f"Claim {draft.claim_number} is draft: only claims that are ready to send are sent."]
    assert db.session.scalar(select(func.count()).select_from(ClaimBatch)) == 0 and state(first.id)[0] == "ready"
    post(client, "/claims/send", {})
    assert flashes(client) == ["Choose at least one claim that is ready to send."]
    resp = post(client, "/claims/send", {"all": "1"})
    assert resp.headers["Location"].endswith("/claims/batches")
    batch = db.session.scalars(select(ClaimBatch)).one()
    assert batch.claim_count == 2 and {state(first.id)[0], state(second.id)[0], state(draft.id)[0]} == {
        "submitted", "draft"}
    html = page(client.get("/claims/batches"))
    assert str(batch) in html and "$200.00" in html
    resp = client.get(f"/claims/batches/{batch.id}/download")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    text = page(resp)
    assert_valid_837p(text)
    assert sorted(r[1] for r in segments(text) if r[0] == "CLM") == sorted([first.claim_number, second.claim_number])
    downloads = events("download", "ClaimBatch")
    assert [(e.patient_id, e.object_id) for e in downloads] == [(c.patient.id, str(batch.id))] or \
        [(e.patient_id, int(e.object_id)) for e in downloads] == [(c.patient.id, batch.id)]


def test_the_office_manager_may_download_but_not_send(client, login_as, c):
    (claim,) = ready_claims(c, 1)
    batch = claim_batches.send(db.session, [claim], actor=c.user)
    login_as("OfficeManager")
    assert client.get(f"/claims/batches/{batch.id}/download").status_code == 200
    assert denied(client, post(client, "/claims/send", {"all": "1"}))


def test_send_refused_by_the_billing_settings_shows_the_translated_reason(client, login_as, c):
    (claim,) = ready_claims(c, 1)
    settings = db.session.get(BillingSettings, 1)
    settings.receiver_name = None
    db.session.commit()
    login_as("Billing")
    post(client, "/claims/send", {"claim": [str(claim.id)]})
    assert flashes(client) == ["The billing settings have no Receiver name: complete the clearinghouse part of the "
                               "billing settings."]
    assert state(claim.id)[0] == "ready"


def pdf_text(data, tmp_path):
    path = tmp_path / "claims.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_print_a_claim_and_a_bulk_print_are_audited(client, login_as, c, tmp_path):
    one = built(c)
    two = built(c, code="81002")
    login_as("OfficeManager")
    resp = client.get(f"/claims/{one.id}/cms1500/full")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = pdf_text(resp.data, tmp_path)
    assert one.claim_number in text and "HEALTH INSURANCE CLAIM FORM" in text
    resp = client.get(f"/claims/{one.id}/cms1500/data")
    assert "HEALTH INSURANCE CLAIM FORM" not in pdf_text(resp.data, tmp_path)
    resp = post(client, "/claims/print", {"claim": [str(one.id), str(two.id)], "mode": "data"})
    text = pdf_text(resp.data, tmp_path)
    assert one.claim_number in text and two.claim_number in text
    prints = [(e.patient_id, details(e)["claim_number"], details(e)["mode"]) for e in events("print", "CMS1500")]
    assert prints == [(c.patient.id, one.claim_number, "full"), (c.patient.id, one.claim_number, "data"),
                      (c.patient.id, one.claim_number, "data"), (c.patient.id, two.claim_number, "data")]
    post(client, "/claims/print", {"mode": "data"})
    assert flashes(client) == ["Choose at least one claim to print."]
    client.get(f"/claims/{one.id}/cms1500/fancy")
    assert flashes(client) == ["Choose how to print the claim."]
    assert len(events("print", "CMS1500")) == 4


# ------------------------------------------------------------------ billing settings

def test_gs02_and_gs03_are_saved_in_the_billing_settings(client, login_as, c):
    login_as("Billing")
    html = page(client.get("/billing/settings/"))
    assert 'name="gs02_sender_code"' in html and 'name="gs03_receiver_code"' in html
    settings = db.session.get(BillingSettings, 1)
    data = {name: (getattr(settings, name) or "") for name in (
        "billing_name", "group_npi", "tax_id", "taxonomy_code", "address_line1", "city", "state", "postal_code",
        "phone", "submitter_id", "submitter_name", "submitter_contact_name", "submitter_contact_phone", "receiver_id",
        "receiver_name", "isa_sender_qualifier", "isa_sender_id", "isa_receiver_qualifier", "isa_receiver_id",
        "usage_indicator")}
    data.update(version=settings.version, gs02_sender_code="X" * 16, gs03_receiver_code="RCV01")
    html = page(post(client, "/billing/settings/", data))
    assert "At most 15 characters." in html
    db.session.expire_all()
    assert db.session.get(BillingSettings, 1).gs03_receiver_code is None
    data["gs02_sender_code"] = "SND01"
    post(client, "/billing/settings/", data)
    db.session.expire_all()
    settings = db.session.get(BillingSettings, 1)
    assert (settings.gs02_sender_code, settings.gs03_receiver_code) == ("SND01", "RCV01")
    batch = claim_batches.send(db.session, ready_claims(c, 1), actor=c.user)
    assert segments(batch.content)[1][2:4] == ["SND01", "RCV01"]


def test_the_billing_menu_has_claims_and_denied_claims_for_billing_and_the_office_manager(client, login_as, app):
    for role, shown in (("Billing", True), ("OfficeManager", True), ("FrontDesk", False), ("Clinician", False)):
        login_as(role)
        html = page(client.get("/"))
        assert ('href="/claims/denied"' in html) is shown, role
        assert ('href="/claims/"' in html) is shown, role
        client.get("/logout/")
