"""What the audit trail costs: chart requests with and without the access record, SQL
statements per page, and `audit-verify` speed.

    .venv/bin/python bench/audit_bench.py --database-url sqlite:////tmp/bench-1m/clinicdesk.db
"""
import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import event, func, select  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import AuditEvent, Patient  # noqa: E402
from app.services import audit  # noqa: E402

PASSWORD = "bench password long enough 123"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    # Anchors belong to one database's chain: keep this run's apart from the app's own file.
    anchor_file = os.path.join(tempfile.mkdtemp(prefix="audit-bench-"), "audit-anchor.log")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=args.database_url, RATELIMIT_ENABLED=False,
                     AUDIT_ANCHOR_FILE=anchor_file)
    rng = random.Random(5)
    with app.app_context():
        sm = app.appbuilder.sm
        if sm.find_user(username="bench_frontdesk") is None:
            sm.add_user("bench_frontdesk", "Bench", "User", "bench@clinic.invalid", sm.find_role("FrontDesk"), password=PASSWORD)
        lo, hi = db.session.execute(select(func.min(Patient.id), func.max(Patient.id))).one()
        ids = []
        while len(ids) < args.requests:
            p = db.session.get(Patient, rng.randint(lo, hi))
            if p is not None and p.status == "active" and not p.restricted:
                ids.append(p.id)
        db.session.remove()
        engine = db.engine

    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a, **k: statements.append(1))
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post("/login/", data={"username": "bench_frontdesk", "password": PASSWORD, "csrf_token": token}).status_code == 302

    def run(label):
        for pid in ids[:5]:
            client.get(f"/patients/{pid}/chart")
        times, counts = [], []
        for pid in ids:
            statements.clear()
            t0 = time.perf_counter()
            assert client.get(f"/patients/{pid}/chart").status_code == 200
            times.append((time.perf_counter() - t0) * 1000)
            counts.append(len(statements))
        times.sort()
        print(f"| chart page, {label} | {statistics.median(times):.1f} | {times[int(len(times) * 0.95) - 1]:.1f} | {statistics.median(counts):.0f} |")

    print("| request | median ms | p95 ms | SQL statements |")
    print("|---|---|---|---|")
    run("audited (one access row in its own transaction)")
    real = audit.access
    audit.access = lambda *a, **k: None
    try:
        run("audit switched off (for comparison only)")
    finally:
        audit.access = real
    for url, label in (("/", "home page"), ("/patients/find", "find page")):
        statements.clear()
        t0 = time.perf_counter()
        client.get(url)
        print(f"| {label} | {(time.perf_counter() - t0) * 1000:.1f} | | {len(statements)} |")

    with app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(AuditEvent))
        t0 = time.perf_counter()
        with db.engine.connect() as conn:
            problems, last = audit.verify(conn, audit.read_anchors(audit.anchor_path()))
        took = time.perf_counter() - t0
        print(f"\naudit-verify: {rows} rows in {took:.2f} s ({rows / took:,.0f} rows/s), problems: {problems or 'none'}")


if __name__ == "__main__":
    main()
