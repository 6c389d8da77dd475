#!/usr/bin/env python
"""Screenshots of the reports and the role home pages:
.venv/bin/python scripts/report_screenshots.py [--out docs/screenshots] [--all DIR]

Builds the same throwaway app as scripts/screenshots.py (demo patients registered over
the last three years), adds an office manager and an auditor, and takes:

    report.png        "New patients by month" with its chart, as the office manager
    home-manager.png  the office manager's home page

--all DIR also writes the pages looked at while building them (the language report, the
front desk's and the auditor's home, a report PDF page as PNG via pdftoppm) into DIR.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from screenshots import (  # noqa: E402
    CHROMIUM, CHROMIUM_ARGS, PASSWORD, SHOWCASE, USERNAME, build_app, local_context, serve, shoot,
)

MANAGER, AUDITOR = "morgan", "avery"


def add_users(app):
    from app.cli import ensure_user
    from app.extensions import db
    from app.services import audit
    from app.services import patients as patient_service

    with app.app_context():
        # The showcase patient registered a second time without accents: a possible duplicate.
        patient_service.register(db.session, dict(SHOWCASE, family_name="Garcia", given_name="Jose", email=None),
                                 allow_duplicate=True, region="US")
        sm = app.appbuilder.sm
        ensure_user(sm, MANAGER, "OfficeManager", first_name="Morgan", last_name="Lee",
                    email="morgan@clinic.invalid", password=PASSWORD)
        ensure_user(sm, AUDITOR, "Auditor", first_name="Avery", last_name="Chen",
                    email="avery@clinic.invalid", password=PASSWORD)
        audit.record(db.engine, action="break_glass", object_type="Patient", object_id=1, patient_id=1, flagged=True,
                     details={"reason": "Screenshot: urgent call from the ER"})
        db.session.commit()


_app = None


def set_locale(username, locale):
    from app.extensions import db

    with _app.app_context():
        user = _app.appbuilder.sm.find_user(username=username)
        user.locale = locale
        db.session.commit()


def log_in(page, username):
    page.goto("/login/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")


def run_report(page, name):
    page.goto(f"/reports/{name}/")
    with page.expect_navigation():
        page.click("#report-run")


def pdf_page(page, path_base):
    """Download the report's PDF and its first page as PNG (pdftoppm)."""
    with page.expect_download() as download:
        page.click("#report-pdf")
    download.value.save_as(path_base + ".pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", path_base + ".pdf",
                    path_base + "-pdf"], check=True)


def take(base_url, out, extra):
    from playwright.sync_api import sync_playwright

    foreign = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        ctx = local_context(browser, base_url, foreign, timeout=20_000)
        page = ctx.new_page()
        log_in(page, MANAGER)
        page.goto("/")
        page.wait_for_selector("#home-cards")
        shoot(page, os.path.join(out, "home-manager.png"))
        run_report(page, "new_patients_by_month")
        page.wait_for_selector("#report-chart svg")
        shoot(page, os.path.join(out, "report.png"), full_page=True)
        if extra:
            pdf_page(page, os.path.join(extra, "report"))
            run_report(page, "patients_by_language")
            for _ in range(2):  # sort by interpreter need, descending
                page.click("#report-table thead th:nth-child(4) button")
            shoot(page, os.path.join(extra, "report-language.png"), full_page=True)
            page.goto("/reports/patients_missing_data/")
            page.fill("#p-registered_from", "13/45/2026")
            page.fill("#p-registered_to", "1/1/2020")
            with page.expect_navigation():
                page.click("#report-run")
            shoot(page, os.path.join(extra, "report-bad-params.png"))
        ctx.close()
        if extra:
            set_locale(MANAGER, "ar")
            ctx = local_context(browser, base_url, foreign, timeout=20_000)
            page = ctx.new_page()
            log_in(page, MANAGER)
            run_report(page, "patients_by_language")
            shoot(page, os.path.join(extra, "report-language-ar.png"), full_page=True)
            pdf_page(page, os.path.join(extra, "report-ar"))
            ctx.close()
            set_locale(MANAGER, None)
            for username, name in ((USERNAME, "home-frontdesk.png"), (AUDITOR, "home-auditor.png")):
                ctx = local_context(browser, base_url, foreign, timeout=20_000)
                page = ctx.new_page()
                log_in(page, username)
                page.goto("/")
                shoot(page, os.path.join(extra, name))
                ctx.close()
        browser.close()
    return foreign


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "screenshots"))
    parser.add_argument("--all", dest="extra", default=None, help="also write the other pages here")
    parser.add_argument("--patients", type=int, default=3000)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.extra:
        os.makedirs(args.extra, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="clinicdesk-report-shots-")
    try:
        app, _ = build_app(workdir, args.patients)
        add_users(app)
        global _app
        _app = app
        server, url = serve(app)
        foreign = take(url, args.out, args.extra)
        server.shutdown()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if foreign:
        print("Requests to other hosts (blocked):", *foreign, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
