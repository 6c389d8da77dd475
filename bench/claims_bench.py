#!/usr/bin/env python
"""Claims benchmark: build, scrub and write the 837P for 1,000 claims, through the services.

    .venv/bin/python bench/claims_bench.py sqlite [--claims 1000] [--json out.json]
    .venv/bin/python bench/claims_bench.py pg [--claims 1000]

A fresh database (SQLite in a temporary folder, or the PostgreSQL database clinicdesk_bench_claims,
dropped and created here) gets the schema, the billing settings, one payer, the FY2026 ICD-10-CM
sample code set of the test suite, `--claims` patients each with a coverage and one completed visit
whose encounter is ready to bill (two diagnoses; a visit line and, every other claim, a second line
with a modifier and two units). Not timed. Then, timed:
  build  claims.build_claim for every ready encounter (one transaction each, as the screen does)
  scrub  claims.scrub for every claim (every rule: settings, coverage, NPIs, codes billable on the
         date of service, lines, timely filing, duplicates, prior authorization)
  ready  claims.transition(..., "ready") for every claim (scrubs again, stamps, commits)
  write  claims.claim_data for every claim, then one batch 837P file (x12_837p.write_837p)
"""
import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PG_ADMIN = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
PG_NAME = "clinicdesk_bench_claims"
TODAY = date(2026, 4, 1)  # scrub's "today": every visit is inside the payer's filing limit
FIRST_DAY = date(2026, 1, 5)  # FY2026 codes in force
SETTINGS = dict(billing_name="Main Street Medical", group_npi="1234567893", tax_id="12-3456789",
                taxonomy_code="207Q00000X", address_line1="1 Main St", city="Boston", state="MA",
                postal_code="02110-1234", phone="6175550100", usage_indicator="T",
                isa_sender_qualifier="ZZ", isa_receiver_qualifier="ZZ")


def database_url(backend, folder):
    if backend == "sqlite":
        return f"sqlite:///{folder}/claims.db"
    admin = sa.create_engine(f"{PG_ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{PG_NAME}"'))
    admin.dispose()
    return f"{PG_ADMIN}/{PG_NAME}"


def seed(session, app, count):
    """Settings, code set, payer, providers, and `count` patients with a ready encounter each."""
    import click
    from flask_migrate import upgrade

    from app.models.billing import Payer
    from app.security import sync_permissions_and_roles
    from app.services import billing_setup, encounters, icd10, scheduling
    from app.services.checkdigits import luhn_check_digit
    from app.services import coverage as coverage_service
    from tests.factories import PatientFactory, ProviderFactory

    upgrade()
    sync_permissions_and_roles(app.appbuilder)
    session.commit()
    text = open(os.path.join(ROOT, "tests", "data", "icd10cm_order_fy2026_sample.txt"), encoding="utf-8").read()
    rows, errors = icd10.parse_cms_order(text)
    assert not errors, errors
    icd10.load_code_set(session, rows, name="FY2026 sample", effective_from=date(2025, 10, 1), source="sample")
    session.commit()
    billing_setup.save_settings(session, SETTINGS)
    payer = Payer(name="Acme Health", payer_code="ACME1", claim_filing_indicator="CI", timely_filing_days=365,
                  address_line1="PO Box 1", city="Hartford", state="MA", postal_code="06101")
    session.add(payer)
    session.commit()
    location = scheduling.add_location(session, name="Main street", timezone="America/New_York", address="1 Main St")
    kind = scheduling.add_type(session, name="Follow-up", default_duration=30, colour="#aa3300")
    providers = []
    for n in range(10):
        base = f"98765432{n}"
        npi = base + str(luhn_check_digit("80840" + base))  # NPI check digit: Luhn over 80840 + 9 digits
        provider = ProviderFactory(npi=npi, colour="#0055aa", default_location_id=location.id)
        providers.append(provider)
        for weekday in range(7):
            scheduling.set_hours(session, provider=provider, location=location, weekday=weekday,
                                 start=datetime.min.time().replace(hour=8), end=datetime.min.time().replace(hour=18))
    long_ago = datetime(2020, 1, 1, tzinfo=timezone.utc)
    with click.progressbar(range(count), label=f"Seeding {count:,} ready encounters") as bar:
        for n in bar:
            patient = PatientFactory(address_line1="5 Elm St", city="Boston", state="MA", postal_code="02115")
            coverage_service.add_coverage(session, patient, payer=payer, priority=1, member_id=f"XYZ{n:06d}",
                                          group_number="GRP7", plan_name="Acme Gold",
                                          effective_date=date(2025, 1, 1))
            slot, provider = divmod(n, len(providers))
            day = FIRST_DAY + timedelta(days=slot // 20)
            start = datetime.combine(day, datetime.min.time()) + timedelta(hours=8, minutes=30 * (slot % 20))
            appointment = scheduling.book(session, patient=patient, provider=providers[provider], location=location,
                                          type=kind, start_local=start, now=long_ago)
            scheduling.transition(session, appointment, "arrived")
            enc = encounters.encounter_for_appointment(session, appointment)
            enc = encounters.set_diagnoses(session, enc, ["E11.9", "I10"], expected_version=enc.version)
            encounters.add_charge(session, enc, {"code": "99213", "fee": "100.00", "units": "1", "pointers": "A B"},
                                  expected_version=enc.version)
            if n % 2:
                encounters.add_charge(session, enc, {"code": "81002", "fee": "12.50", "units": "2", "pointers": "B",
                                                     "modifiers": "59"}, expected_version=enc.version)
            encounters.mark_ready(session, enc, expected_version=enc.version)


STATEMENTS = [0]


def count_statements(engine):
    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(*_args):
        STATEMENTS[0] += 1


def timed(label, results, func, count):
    STATEMENTS[0] = 0
    start = time.perf_counter()
    value = func()
    seconds = time.perf_counter() - start
    results[label + "_s"] = round(seconds, 2)
    results[label + "_ms_per_claim"] = round(seconds * 1000 / count, 1)
    results[label + "_statements_per_claim"] = round(STATEMENTS[0] / count, 1)
    print(f"{label:6s} {seconds:7.2f} s  {seconds * 1000 / count:6.1f} ms/claim  "
          f"{STATEMENTS[0] / count:6.1f} SQL statements/claim", flush=True)
    return value


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("backend", choices=("sqlite", "pg"))
    ap.add_argument("--claims", type=int, default=1000)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--fresh-session", action="store_true",
                    help="empty the session before each claim (one request per claim) instead of one long session "
                         "(a bulk action over all claims)")
    args = ap.parse_args()

    from sqlalchemy import select

    from app import create_app
    from app.claims.x12_837p import write_837p
    from app.extensions import db
    from app.models.billing import Encounter
    from app.models.claims import Claim
    from app.services import claims
    from app.claims.x12_837p import envelope_from_settings
    from app.services.billing_setup import get_settings

    folder = tempfile.mkdtemp(prefix="clinicdesk_bench_claims_")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url(args.backend, folder), RATELIMIT_ENABLED=False,
                     AUDIT_ANCHOR_FILE=os.path.join(folder, "anchor.log"), UPLOAD_FOLDER=os.path.join(folder, "up"))
    results = {"database": args.backend, "claims": args.claims}
    with app.app_context():
        session = db.session
        seed(session, app, args.claims)
        count_statements(db.engine)
        ids = session.scalars(select(Encounter.id).where(Encounter.status == "ready").order_by(Encounter.id)).all()
        actor = None

        def fresh():
            """Each claim in a new session, as one request of the claim page handles one claim."""
            if args.fresh_session:
                session.expunge_all()

        def build():
            for encounter_id in ids:
                fresh()
                claims.build_claim(session, session.get(Encounter, encounter_id), actor=actor)

        timed("build", results, build, args.claims)
        claim_ids = session.scalars(select(Claim.id).order_by(Claim.id)).all()
        assert len(claim_ids) == args.claims

        def scrub():
            return sum(len(claims.scrub(session, session.get(Claim, i), today=TODAY)) for i in claim_ids if fresh() is None)

        problems = timed("scrub", results, scrub, args.claims)
        assert problems == 0, f"{problems} scrubber problems: the bench claims should be clean"

        def ready():
            for i in claim_ids:
                fresh()
                claim = session.get(Claim, i)
                claims.transition(session, claim, "ready", actor=actor, expected_version=claim.version, today=TODAY)

        timed("ready", results, ready, args.claims)

        def write():
            data = [claims.claim_data(session, session.get(Claim, i)) for i in claim_ids]
            envelope = envelope_from_settings(get_settings(session))
            return write_837p(data, envelope=envelope, control_number=1,
                              created_at=datetime(2026, 4, 1, 12, 0, tzinfo=timezone.utc))

        text = timed("write", results, write, args.claims)
        results["segments"] = text.count("~")
        results["kilobytes"] = round(len(text) / 1024)
        print(json.dumps(results, indent=2))
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(results, fh, indent=2)
        session.remove()


if __name__ == "__main__":
    main()
