#!/usr/bin/env python
"""Take the README screenshots: .venv/bin/python scripts/screenshots.py [--out docs/screenshots].

Builds the app on a throwaway SQLite database, seeds a few hundred demo patients (the
same service `flask clinic seed-demo` uses) plus one fully filled-in patient, serves it
on 127.0.0.1 and drives Debian's Chromium through four screens:

    home-search.png              home page, "garcia" typed into the search box
    patient-chart.png            the chart of the filled-in patient
    register-validation-error.png registration with a birth date in the future
    duplicate-warning.png         registering someone who is already there
    calendar-day.png              today's schedule, providers side by side (demo schedule)
    flow-board.png                the patient-flow board of today

Nothing is fetched from another host (requests elsewhere are aborted and reported).
"""
import argparse
import os
import shutil
import sys
import tempfile
import threading
from datetime import date, timedelta
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-quic", "--font-render-hinting=none",
]
USERNAME, PASSWORD = "dana", "screenshots-only-password-1"
SHOWCASE = {
    "family_name": "García", "given_name": "José", "middle_name": "Luis", "preferred_name": "Pepe",
    "birth_date": date(1968, 4, 23), "sex": "male", "gender_identity": "male",
    "address_line1": "214 Beacon Street", "address_line2": "Apt 3", "city": "Boston", "state": "MA",
    "postal_code": "02116", "country": "US", "phone_mobile": "(617) 555-0142", "phone_home": "617-555-0199",
    "email": "jose.garcia@example.com", "preferred_language": "es", "interpreter_needed": True,
    "hipaa_notice_ack_date": date(2024, 2, 12), "consent_voicemail": True, "consent_sms": True,
    "consent_email": False, "emergency_contact_name": "Carmen García", "emergency_contact_relationship": "Wife",
    "emergency_contact_phone": "(617) 555-0143", "guarantor_relationship": "self", "status": "active",
    "notes": "Prefers morning appointments.",
}

# A few namesakes, so the search screenshot shows how they are told apart.
NAMESAKES = [
    {"family_name": "Garcia", "given_name": "Maria Elena", "birth_date": date(1991, 8, 2), "sex": "female",
     "phone_mobile": "(857) 555-0120", "preferred_language": "en"},
    {"family_name": "García Márquez", "given_name": "Lucía", "birth_date": date(1954, 1, 19), "sex": "female",
     "phone_home": "(617) 555-0187", "preferred_language": "es", "status": "inactive"},
    {"family_name": "Garcia", "given_name": "Joseph", "birth_date": date(2013, 10, 7), "sex": "male",
     "guardian_name": "Maria Elena Garcia", "guardian_relationship": "Mother", "preferred_language": "en",
     "guarantor_relationship": "parent", "guarantor_name": "Maria Elena Garcia"},
]


def build_app(workdir, patients):
    """A development app on workdir/screenshots.db with roles, one front-desk user and demo patients."""
    os.environ["CLINICDESK_INSTANCE"] = workdir
    from flask_migrate import upgrade

    from app import create_app
    from app.cli import ensure_user
    from app.extensions import db
    from app.security import sync_permissions_and_roles
    from app.services import demo_seed
    from app.services import patients as patient_service

    app = create_app("development", SQLALCHEMY_DATABASE_URI=f"sqlite:///{workdir}/screenshots.db",
                     RATELIMIT_ENABLED=False, AUTH_RATE_LIMITED=False)
    with app.app_context():
        upgrade()
        sm = app.appbuilder.sm
        sync_permissions_and_roles(app.appbuilder)
        db.session.commit()
        user, _ = ensure_user(sm, USERNAME, "FrontDesk", first_name="Dana", last_name="Reyes",
                              email="dana@clinic.invalid", password=PASSWORD)
        demo_seed.ensure_providers(db.session)
        providers = demo_seed.provider_choices(db.session)
        demo_seed.seed_patients(db.session, patients, seed=2026, providers=providers)
        showcase = dict(SHOWCASE, primary_provider_id=providers[0][0] if providers else None)
        patient = patient_service.register(db.session, showcase, allow_duplicate=True, region="US")
        for person in NAMESAKES:
            patient_service.register(db.session, dict(person, country="US"), allow_duplicate=True, region="US")
        db.session.commit()
        demo_seed.seed_schedule(db.session, seed=2026)
        demo_seed.seed_billing(db.session, seed=2026)
        return app, patient.id


def serve(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def typed_date(page, selector, day):
    """Write `day` in the order the field's hint shows (the hint's example is 31 December 1987)."""
    example = page.get_attribute(selector, "placeholder")
    return example.replace("1987", f"{day.year:04d}").replace("12", f"{day.month:02d}").replace("31", f"{day.day:02d}")


def shoot(page, path, full_page=False):
    page.mouse.move(0, 0)  # no hover effects in the picture
    page.screenshot(path=path, full_page=full_page, animations="disabled", caret="initial")
    _shrink(path)
    print(f"  {os.path.relpath(path, ROOT)}  {os.path.getsize(path) // 1024} KB")


def _shrink(path):
    """Palette PNGs: UI screenshots have few colours and stay well under 300 KB."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def local_context(browser, base_url, foreign, timeout=15_000):
    """A fresh browser profile that may load only from 127.0.0.1 (other hosts go into `foreign`)."""
    ctx = browser.new_context(base_url=base_url, locale="en-US", timezone_id="America/New_York",
                              viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(timeout)

    def only_local(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    ctx.route("**/*", only_local)
    return ctx


def take_screenshots(base_url, patient_id, out):
    from playwright.sync_api import sync_playwright

    foreign = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        ctx = local_context(browser, base_url, foreign)
        page = ctx.new_page()

        page.goto("/login/")
        page.fill("#username", USERNAME)
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("input[type=submit]")

        page.goto("/")
        page.locator("#patient-search-q").press_sequentially("garcia", delay=60)
        page.wait_for_selector("#patient-search-results tbody tr")
        page.wait_for_load_state("networkidle")
        page.keyboard.press("ArrowDown")
        shoot(page, os.path.join(out, "home-search.png"))

        page.goto(f"/patients/{patient_id}/chart")
        page.wait_for_selector("#patient-chart")
        shoot(page, os.path.join(out, "patient-chart.png"), full_page=True)

        page.goto("/patients/register")
        page.fill("#family_name", "Okafor")
        page.fill("#given_name", "Adaeze")
        page.fill("#birth_date", typed_date(page, "#birth_date", date.today() + timedelta(days=400)))
        page.select_option("#sex", "female")
        page.fill("#phone_mobile", "(617) 555-0178")
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.wait_for_selector(".has-error")
        shoot(page, os.path.join(out, "register-validation-error.png"))

        page.goto("/patients/register")
        page.fill("#family_name", "Garcia")
        page.fill("#given_name", "Jose")
        page.fill("#birth_date", typed_date(page, "#birth_date", SHOWCASE["birth_date"]))
        page.select_option("#sex", "male")
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.wait_for_selector("#possible-duplicates")
        shoot(page, os.path.join(out, "duplicate-warning.png"))

        page.goto("/schedule/")
        page.wait_for_selector(".cd-appt")
        shoot(page, os.path.join(out, "calendar-day.png"))

        page.goto("/flow/")
        page.wait_for_selector("#flow-board")
        shoot(page, os.path.join(out, "flow-board.png"))

        ctx.close()
        browser.close()
    return foreign


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "screenshots"))
    parser.add_argument("--patients", type=int, default=300, help="demo patients to seed")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database (its path is printed)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="clinicdesk-shots-")
    try:
        print(f"Seeding {args.patients} patients in {workdir} ...")
        app, patient_id = build_app(workdir, args.patients)
        server, url = serve(app)
        print(f"Serving on {url}; screenshots to {os.path.relpath(args.out, ROOT)}/")
        foreign = take_screenshots(url, patient_id, args.out)
        server.shutdown()
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if foreign:
        print("Requests to other hosts (blocked):", *foreign, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
