#!/usr/bin/env python
"""Screenshots of the billing, referral and inventory screens:
.venv/bin/python scripts/feature_screenshots.py [--out docs/screenshots] [--patients 300] [--keep]

Builds the same throwaway app as scripts/screenshots.py (demo patients, schedule, billing with
its six months of claims and payments, inventory, purchase orders and referrals from
app/services/demo_seed.py, on the ICD-10-CM release the app ships), then adds the payer files
of a day through the services: one 835 that pays and denies claims already sent (processed),
a second one waiting for review; and prior authorizations running out. (It imports the 835
writer of tests/x12_payer_files.py: run it from the repository with the dev requirements.)
Then Chromium logs in as the billing clerk, the office manager and an Arabic-speaking
billing clerk and takes (in docs/screenshots/):

    claims-queue.png           claims work queue            claim-scrubber.png    a draft the scrubber stops
    claims-denied.png          denied claims to work        payer-file-review.png an 835 before processing
    payment-entry-preview.png  a payer payment typed in     chart-account.png     chart: Account, Statements, Claims
    statement-pdf.png          a patient statement (PDF)    referrals-list.png    open referrals
    referral-page.png          one referral                 referral-letter-es.png the patient letter in Spanish
    authorizations-alerts.png  authorizations running out   inventory-stock.png   stock on hand
    inventory-issue.png        issuing a controlled drug    purchase-order.png    one purchase order
    low-stock.png              items at reorder point       home-manager-inventory.png / home-billing.png
    claims-queue-ar.png        the claims queue in Arabic (right to left)

PDF pages are turned into PNG with pdftoppm (-r 60). Nothing is fetched from another host.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from screenshots import CHROMIUM, CHROMIUM_ARGS, PASSWORD, _shrink, local_context, serve, shoot  # noqa: E402

BILLING, MANAGER, ARABIC, NURSE, WITNESS = "bea", "morgan", "layla", "nora", "owen"


def build_app(workdir, patients):
    """App on workdir/features.db: ICD-10-CM, roles, our users, demo data, then a billing day."""
    os.environ["CLINICDESK_INSTANCE"] = workdir
    from flask_migrate import upgrade

    from app import create_app
    from app.cli import ensure_user
    from app.cli_billing import ensure_default_icd10
    from app.extensions import db
    from app.security import sync_permissions_and_roles
    from app.services import demo_seed

    app = create_app("development", SQLALCHEMY_DATABASE_URI=f"sqlite:///{workdir}/features.db",
                     RATELIMIT_ENABLED=False, AUTH_RATE_LIMITED=False)
    with app.app_context():
        upgrade()
        sm = app.appbuilder.sm
        sync_permissions_and_roles(app.appbuilder)
        db.session.commit()
        ensure_default_icd10(db.session)
        for username, role, first, last in ((BILLING, "Billing", "Bea", "Santos"),
                                            (MANAGER, "OfficeManager", "Morgan", "Lee"),
                                            (ARABIC, "Billing", "Layla", "Haddad"),
                                            (NURSE, "Clinician", "Nora", "Quinn"),
                                            (WITNESS, "OfficeManager", "Owen", "Price")):  # controlled-drug witness
            ensure_user(sm, username, role, first_name=first, last_name=last, email=f"{username}@clinic.invalid",
                        password=PASSWORD)
        sm.find_user(username=ARABIC).locale = "ar"
        db.session.commit()
        demo_seed.ensure_providers(db.session)
        demo_seed.seed_patients(db.session, patients, seed=2026, providers=demo_seed.provider_choices(db.session))
        demo_seed.seed_schedule(db.session, seed=2026)
        demo_seed.seed_billing(db.session, seed=2026)
        billing_day(db.session, sm.find_user(username=BILLING))
    return app


def billing_day(session, clerk):
    """The payer files of the day, through the services like the screens: one 835 that pays and denies
    claims already sent (processed), a second one waiting for review; prior authorizations running out.

    The claims, batches and six months of payments come from seed_billing (app/services/demo_billing_flow.py);
    without them (an older tree) the ready encounters are billed and sent here first."""
    from sqlalchemy import select

    from app.models.claims import Claim
    from app.services import claim_batches, payer_files
    from tests.x12_payer_files import payment_for, write_835

    def waiting():
        return session.scalars(select(Claim).where(Claim.status.in_(("submitted", "accepted")))
                               .order_by(Claim.service_date, Claim.id)).all()

    if len(waiting()) < 8:
        built = claim_batches.build_claims(session, claim_batches.ready_encounters(session, limit=60),
                                           actor=clerk).done
        ready = claim_batches.mark_ready(session, built[: max(len(built) - 6, 0)], actor=clerk).done
        if ready:
            claim_batches.send(session, ready[:20], actor=clerk)
    by_payer = {}
    for claim in waiting():
        by_payer.setdefault(claim.payer_id, []).append(claim)
    sent = max(by_payer.values(), key=len) if by_payer else []
    if len(sent) < 4:
        return
    payer = sent[0].payer
    kw = dict(payer_name=payer.name.upper(), payer_id=payer.payer_code)
    # Keep the newest claim for the payment entry screen; of the others, a third goes in the file already
    # posted (paid, one denied) and the rest in the file waiting for review (paid, one denied).
    rest = sent[:-1]
    cut = max(len(rest) // 3, 2)
    first, second = rest[:cut], rest[cut:cut + 6]

    def payments(claims, remark):
        out = [payment_for(c, paid=(Decimal(c.total_charge) * Decimal("0.6")).quantize(Decimal("0.01")),
                           patient_responsibility=Decimal("20.00") if Decimal(c.total_charge) > 40 else Decimal(0))
               for c in claims[:-1]]
        return out + [payment_for(c, paid=Decimal(0), status="4", remarks=[remark]) for c in claims[-1:]]

    done = payer_files.receive(session, write_835(payments(first, "N130"), control=801, reference="EFT1001",
                                                  **kw).encode(), file_name="era-1001.835", actor=clerk)
    payer_files.process(session, done, actor=clerk, expected_version=done.version)
    if second:
        payer_files.receive(session, write_835(payments(second, "N290"), control=802, reference="EFT1002",
                                               **kw).encode(), file_name="era-1002.835", actor=clerk)
    authorizations_running_out(session, sent)


def authorizations_running_out(session, claims):
    from app.services import authorizations

    if authorizations.alert_count(session) >= 3:
        return
    today = date.today()
    seen = set()
    plans = [("PA-77120", "97110, 97112", Decimal(12), -60, 9), ("PA-40517", "72148", Decimal(1), -20, 40),
             ("PA-88213", "", None, -150, 5), ("PA-55002", "J1745", Decimal(6), -30, 90)]
    for claim in claims:
        if not plans:
            break
        if claim.patient_id in seen:
            continue
        seen.add(claim.patient_id)
        number, codes, units, start, end = plans.pop(0)
        authorizations.add_authorization(session, claim.patient_id, payer=claim.payer_id, number=number,
                                         codes=codes, units_authorized=units,
                                         valid_from=today + timedelta(days=start),
                                         valid_to=today + timedelta(days=end), notes=None)


def pdf_page_png(pdf_bytes, path, page=1, resolution=60):
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "doc.pdf")
        with open(source, "wb") as fh:
            fh.write(pdf_bytes)
        subprocess.run(["pdftoppm", "-png", "-r", str(resolution), "-f", str(page), "-l", str(page), "-singlefile",
                        source, os.path.join(tmp, "page")], check=True)
        shutil.move(os.path.join(tmp, "page.png"), path)
    _shrink(path)
    print(f"  {os.path.relpath(path, ROOT)}  {os.path.getsize(path) // 1024} KB")


def pick(app):
    """Ids the screenshots need, chosen from what the seed made."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Patient
    from app.models.claims import Claim
    from app.services import posting, referrals

    with app.app_context():
        ids = {}
        drafts = db.session.scalars(select(Claim).where(Claim.status == "draft").order_by(Claim.id)).all()
        for claim in drafts:
            from app.services import claims as claim_service

            if claim_service.scrub(db.session, claim):
                ids["scrubbed"] = claim.id
                break
        else:
            ids["scrubbed"] = drafts[0].id if drafts else None
        paid = db.session.scalars(select(Claim).where(Claim.status.in_(("paid", "partially_paid", "patient_balance")))
                                  .order_by(Claim.id)).all()
        owing = None
        for claim in paid:
            account = posting.patient_account(db.session, claim.patient)
            owing = claim.patient
            if account:
                break
        ids["patient"] = owing.id if owing else db.session.scalar(select(func.min(Patient.id)))
        waiting = db.session.scalars(select(Claim).where(Claim.status.in_(("submitted", "accepted")))
                                     .order_by(Claim.id.desc())).all()
        ids["entry"] = [(c.claim_number, Decimal(c.total_charge), c.payer.name) for c in waiting
                        if len(c.lines) == 1][:1]
        open_ones = referrals.open_referrals(db.session, direction="outgoing")
        spanish = [r for r in open_ones if r.patient.preferred_language == "es"]
        ids["referral"] = (spanish or open_ones or [None])[0]
        ids["referral"] = ids["referral"].id if ids["referral"] is not None else None
        return ids


def statement_pdf(app, patient_id):
    from app.extensions import db
    from app.models import Patient
    from app.services import statements

    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        try:
            statement = statements.prepare(db.session, patient, today=date.today())
        except Exception as exc:  # nothing due: reported, the other screenshots still taken
            print(f"  (no statement for patient {patient_id}: {exc})")
            db.session.rollback()
            return None
        pdf = statement.letter.pdf
        db.session.rollback()  # a look, not a print: no statement number used up
        return pdf


def shoot_panels(page, path, first, last):
    """The page from the top of `first` to the bottom of `last` (chart panels), 1280 px wide."""
    page.mouse.move(0, 0)
    top, bottom = page.locator(first).bounding_box(), page.locator(last).bounding_box()
    y = max(top["y"] - 10, 0)
    clip = {"x": 0, "y": y, "width": page.viewport_size["width"], "height": bottom["y"] + bottom["height"] + 10 - y}
    page.screenshot(path=path, full_page=True, clip=clip, animations="disabled", caret="initial")
    _shrink(path)
    print(f"  {os.path.relpath(path, ROOT)}  {os.path.getsize(path) // 1024} KB")


def log_in(ctx, username):
    page = ctx.new_page()
    page.goto("/login/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    return page


def take(base_url, app, out, only=None):
    from playwright.sync_api import sync_playwright

    ids = pick(app)
    print("Using", ids)
    foreign = []

    def want(name):
        return only is None or name in only

    def path(name):
        return os.path.join(out, name)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)

        ctx = local_context(browser, base_url, foreign)
        page = log_in(ctx, BILLING)
        if want("home-billing.png"):
            page.goto("/")
            shoot(page, path("home-billing.png"))
        if want("claims-queue.png"):
            page.goto("/claims/")
            shoot(page, path("claims-queue.png"))
        if want("claim-scrubber.png") and ids["scrubbed"]:
            page.goto(f"/claims/{ids['scrubbed']}")
            shoot(page, path("claim-scrubber.png"), full_page=True)
        if want("claims-denied.png"):
            page.goto("/claims/denied")
            shoot(page, path("claims-denied.png"))
        if want("payer-file-review.png"):
            page.goto("/payer-files/")
            with page.expect_navigation():
                page.locator("#payer-file-list tr", has_text="era-1002").locator("a").first.click()
            shoot(page, path("payer-file-review.png"), full_page=True)
        if want("payment-entry-preview.png") and ids["entry"]:
            # A paper EOB typed in: 60 % paid, $20 coinsurance, the rest written off (CO-45).
            page.goto("/payments/new")
            number, charge, payer_name = ids["entry"][0]
            paid = (charge * Decimal("0.6")).quantize(Decimal("0.01"))
            page.select_option("#payer", label=payer_name)
            page.fill("#reference", "CHK55012")
            page.fill("#amount", str(paid))
            page.fill("#claim_numbers", number)
            with page.expect_navigation():
                page.click("#payment-continue")
            page.fill("#c0-paid", str(paid))
            page.fill("#c0-pr", "20.00")
            page.fill("[name=c0-l1-paid]", str(paid))
            page.fill("[name=c0-l1-adj]", f"CO-45 {charge - paid - 20:.2f}; PR-2 20.00")
            with page.expect_navigation():
                page.click("#payment-preview-button")
            shoot(page, path("payment-entry-preview.png"), full_page=True)
        if want("chart-account.png"):
            page.goto(f"/patients/{ids['patient']}/chart")
            page.wait_for_selector("#patient-chart")
            shoot_panels(page, path("chart-account.png"), "#chart-statement", "#chart-account")
        if want("statement-pdf.png"):
            pdf = statement_pdf(app, ids["patient"])
            if pdf:
                pdf_page_png(pdf, path("statement-pdf.png"))
        if want("authorizations-alerts.png"):
            page.goto("/authorizations/")
            shoot(page, path("authorizations-alerts.png"))
        ctx.close()

        ctx = local_context(browser, base_url, foreign)
        page = log_in(ctx, MANAGER)
        if want("home-manager-inventory.png"):
            page.goto("/")
            shoot(page, path("home-manager-inventory.png"), full_page=True)
        if want("referrals-list.png"):
            page.goto("/referrals/")
            shoot(page, path("referrals-list.png"))
        if ids["referral"] and want("referral-page.png"):
            page.goto(f"/referrals/{ids['referral']}")
            shoot(page, path("referral-page.png"), full_page=True)
        if ids["referral"] and want("referral-letter-es.png"):
            response = ctx.request.get(f"/referrals/{ids['referral']}/letter/patient")
            if response.ok and response.headers.get("content-type", "").startswith("application/pdf"):
                pdf_page_png(response.body(), path("referral-letter-es.png"))
            else:
                print("  (no patient letter:", response.status, ")")
        if want("inventory-stock.png"):
            page.goto("/inventory/")
            shoot(page, path("inventory-stock.png"))
        if want("inventory-issue.png"):
            page.goto("/inventory/issue")
            item = page.locator("select[name=item] option", has_text="Lorazepam")
            if item.count():
                page.select_option("select[name=item]", item.first.get_attribute("value"))
            where = page.locator("select[name=location] option", has_text="drug cabinet")
            if where.count():
                page.select_option("select[name=location]", where.first.get_attribute("value"))
            page.fill("[name=quantity]", "2")
            page.fill("[name=witness_username]", WITNESS)
            page.evaluate("document.activeElement.blur()")
            shoot(page, path("inventory-issue.png"), full_page=True)
        if want("purchase-order.png"):
            page.goto("/purchase-orders/")
            rows = page.locator("table tbody tr")
            sent = rows.filter(has_text="ent")  # a sent order (or partly received) shows more than a draft
            link = (sent if sent.count() else rows).locator("a[href*='/purchase-orders/']").first
            if link.count():
                link.click()
                page.wait_for_load_state()
                shoot(page, path("purchase-order.png"), full_page=True)
        if want("low-stock.png"):
            page.goto("/inventory/lists/low-stock")
            shoot(page, path("low-stock.png"))
        ctx.close()

        ctx = local_context(browser, base_url, foreign)
        page = log_in(ctx, ARABIC)
        if want("claims-queue-ar.png"):
            page.goto("/claims/")
            shoot(page, path("claims-queue-ar.png"))
        ctx.close()
        browser.close()
    return foreign


def main():
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "screenshots"))
    parser.add_argument("--patients", type=int, default=300, help="demo patients to seed")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database (its path is printed)")
    parser.add_argument("--reuse", metavar="DIR", help="reuse a database kept by --keep (no seeding)")
    parser.add_argument("--only", nargs="*", help="file names to take (default: all)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    workdir = args.reuse or tempfile.mkdtemp(prefix="clinicdesk-features-")
    try:
        if args.reuse:
            os.environ["CLINICDESK_INSTANCE"] = workdir
            from app import create_app

            app = create_app("development", SQLALCHEMY_DATABASE_URI=f"sqlite:///{workdir}/features.db",
                             RATELIMIT_ENABLED=False, AUTH_RATE_LIMITED=False)
        else:
            print(f"Seeding {args.patients} patients and a billing day in {workdir} ...")
            app = build_app(workdir, args.patients)
        server, url = serve(app)
        print(f"Serving on {url}; screenshots to {os.path.relpath(args.out, ROOT)}/")
        foreign = take(url, app, args.out, set(args.only) if args.only else None)
        server.shutdown()
    finally:
        if args.keep or args.reuse:
            print(f"Database kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if foreign:
        print("Requests to other hosts (blocked):", *foreign, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
