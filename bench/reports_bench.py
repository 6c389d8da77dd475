#!/usr/bin/env python
"""Time every report (defaults, and the widest parameters) and the home-page card queries.

    DATABASE_URL=... .venv/bin/python bench/reports_bench.py [--runs 3]

Runs against the database DATABASE_URL names (default: instance/clinicdesk.db), seeded
with `flask clinic seed-demo --patients N` (or bench/seed_bench.sh with KEEP=...). Times
are the runner's read-only execution (connection, query, fetch up to the CSV row limit),
best of --runs; the home cards are timed as the queries the page runs.
"""
import argparse
import datetime as dt
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VARIANTS = {
    "new_patients_by_month": [{}, {"period_from": "2017-01-01", "period_to": None}],
    "patients_by_language": [{}, {"status": "all"}],
    "patients_missing_data": [{}, {"missing": "notice"}],
    "patient_list": [{}, {"status": "all"}],
    "possible_duplicates": [{}, {"registered_from": "", "registered_to": ""}],
}


def best(fn, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from app import create_app
    from app.extensions import db
    from app.reports import all_reports, runner
    from app.services import registry_stats
    from app.views import home_cards

    app = create_app(os.environ.get("CLINICDESK_ENV", "development"))
    with app.test_request_context():
        from app.models import Patient
        from sqlalchemy import func, select

        total = db.session.scalar(select(func.count()).select_from(Patient))
        print(f"{db.engine.dialect.name}, {total:,} patients; best of {args.runs}")
        limit = app.config["REPORT_CSV_ROWS"]
        today = dt.date.today().isoformat()
        for name, report in all_reports().items():
            for variant in VARIANTS.get(name, [{}]):
                raw = {k: (today if v is None else v) for k, v in variant.items()}
                params = runner.parse_params(report, raw, locale="en", session=db.session)
                seconds, (rows, truncated, _) = best(
                    lambda: runner.execute(report, params.values, engine=db.engine, timeout=120, limit=limit), args.runs)
                label = ", ".join(f"{k}={v}" for k, v in raw.items()) or "defaults"
                print(f"  {name:<24} {label:<44} {seconds * 1000:8.1f} ms  {len(rows):>6} rows{' (cut)' if truncated else ''}")
        ctx = home_cards.context()
        cards = {
            "registrations today": lambda: registry_stats.registrations(db.session, ctx["today_since"]),
            "registrations this month": lambda: registry_stats.registrations(db.session, ctx["month_since"]),
            "missing data, today": lambda: registry_stats.registrations_missing_data(db.session, ctx["today_since"]),
            "duplicates, 30 days": lambda: registry_stats.duplicate_count(db.session, ctx["days30_since"]),
            "break-glass today": lambda: registry_stats.audit_events_since(db.session, ctx["today_since"], flagged=True),
            "failed sign-ins today": lambda: registry_stats.audit_events_since(db.session, ctx["today_since"],
                                                                               action="login_failed"),
        }
        for label, fn in cards.items():
            seconds, value = best(fn, args.runs)
            print(f"  card {label:<40} {seconds * 1000:8.2f} ms  = {value}")


if __name__ == "__main__":
    main()
