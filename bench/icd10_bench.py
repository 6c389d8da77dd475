"""ICD-10-CM: loading the shipped code set, and searching it by code and by words.

    .venv/bin/python bench/icd10_bench.py --database-url sqlite:////tmp/icd10-bench.db
    .venv/bin/python bench/icd10_bench.py --database-url postgresql://postgres@127.0.0.1/clinicdesk_bench_icd10

The database is migrated and the default set loaded on the first run (timed); later runs reuse it.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.services import icd10  # noqa: E402

QUERIES = {
    "code prefix (E11)": "E11",
    "full code (j45.909)": "j45.909",
    "one word (asthma)": "asthma",
    "two words (diabetes kidney)": "diabetes kidney",
    "three word prefixes (fract fem shaft)": "fract fem shaft",
    "common word (pain)": "pain",
}


def ensure_database(url):
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}):
            conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    ensure_database(args.database_url)
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=args.database_url, RATELIMIT_ENABLED=False,
                     AUDIT_ANCHOR_FILE=os.path.join(tempfile.mkdtemp(), "anchor.log"))
    with app.app_context():
        upgrade()
        if not icd10.has_code_set(db.session):
            started = time.perf_counter()
            code_set = icd10.load_default(db.session)
            db.session.commit()
            icd10.analyze(db.engine)
            print(f"loaded {code_set.code_count} codes in {time.perf_counter() - started:.1f} s")
        on = date.today()
        print(f"{'query':40} {'median ms':>10} {'p95 ms':>8} {'hits':>5}")
        for label, query in QUERIES.items():
            times, hits = [], 0
            for _ in range(args.repeat):
                started = time.perf_counter()
                hits = len(icd10.search(db.session, query, on))
                times.append((time.perf_counter() - started) * 1000)
                db.session.rollback()
            times.sort()
            print(f"{label:40} {statistics.median(times):10.1f} {times[int(len(times) * 0.95) - 1]:8.1f} {hits:5}")


if __name__ == "__main__":
    main()
