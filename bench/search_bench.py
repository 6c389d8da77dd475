"""Patient search benchmark: one-box search vs. a plain FAB ModelView filter.

Server time per request, measured in-process through the WSGI app (no network), on an
existing database seeded with `flask clinic seed-demo --patients N`:

    .venv/bin/python bench/search_bench.py --database-url sqlite:////tmp/bench-1m/clinicdesk.db
    .venv/bin/python bench/search_bench.py --database-url postgresql://postgres@127.0.0.1/clinicdesk_bench_1m
"""
import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Patient  # noqa: E402
from app.services import phones  # noqa: E402

PASSWORD = "bench password long enough 123"


def sample_patients(n, rng):
    lo, hi = db.session.execute(select(func.min(Patient.id), func.max(Patient.id))).one()
    picked = []
    while len(picked) < n:
        p = db.session.get(Patient, rng.randint(lo, hi))
        if p is not None and p.status == "active":
            picked.append(p)
    return picked


def queries(patients):
    out = {"full name": [], "type-ahead, every keystroke of 'family given'": [], "type-ahead (3 letters)": [],
           "given (2) + family (4) prefixes": [], "MRN": [], "birth date": [], "phone": []}
    for p in patients:
        typed = f"{p.family_name} {p.given_name}"
        out["type-ahead, every keystroke of 'family given'"].extend((typed[:n], p.mrn) for n in range(2, len(typed) + 1))
        out["full name"].append((typed, p.mrn))
        out["type-ahead (3 letters)"].append((p.family_name[:3], p.mrn))
        out["given (2) + family (4) prefixes"].append((f"{p.given_name[:2]} {p.family_name[:4]}", p.mrn))
        out["MRN"].append((p.mrn, p.mrn))
        out["birth date"].append((f"{p.birth_date.month}/{p.birth_date.day}/{p.birth_date.year}", p.mrn))
        if p.phone_mobile or p.phone_home:
            out["phone"].append((phones.display(p.phone_mobile or p.phone_home, "US"), p.mrn))
    return out


def timed(fn, repeat):
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def summary(samples):
    samples = sorted(samples)
    return {"median_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2), "n": len(samples)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--baseline-samples", type=int, default=15)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args()

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=args.database_url, RATELIMIT_ENABLED=False)
    rng = random.Random(args.seed)
    with app.app_context():
        sm = app.appbuilder.sm
        if sm.find_user(username="bench_frontdesk") is None:
            sm.add_user("bench_frontdesk", "Bench", "User", "bench@clinic.invalid", sm.find_role("FrontDesk"), password=PASSWORD)
        total = db.session.execute(select(func.count()).select_from(Patient)).scalar_one()
        patients = sample_patients(args.samples, rng)
        qs = queries(patients)
        db.session.remove()

    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    resp = client.post("/login/", data={"username": "bench_frontdesk", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, "bench login failed"
    headers = {"X-CSRFToken": token}

    def search(q):
        r = client.post("/patients/search", json={"q": q}, headers=headers)
        assert r.status_code == 200
        return r.get_json()

    # Warm caches (both kinds) before measuring.
    for q, _ in qs["full name"][:5]:
        search(q)
    results = {"database": app.config["SQLALCHEMY_DATABASE_URI"].split("://")[0], "patients": total, "one_box": {}, "fab_modelview": {}}
    found_self = 0
    for kind, items in qs.items():
        samples = []
        for q, mrn in items:
            t0 = time.perf_counter()
            data = search(q)
            samples.append((time.perf_counter() - t0) * 1000)
            if kind in ("full name", "MRN") and any(r["mrn"] == mrn for r in data["results"]):
                found_self += 1
        results["one_box"][kind] = summary(samples)
    # A patient is "found" when in the first page; misses are people sharing their exact
    # name with more patients than a page shows (their MRN or birth date finds them).
    results["one_box_found_rate"] = round(found_self / (2 * len(patients)), 3)

    def fab_list(arg, value):
        r = client.get(f"/patientlistview/list/?{arg}={quote(value)}")
        assert r.status_code == 200
    baseline = {
        "family name, starts with (_flt_0)": ("_flt_0_family_name", [p.family_name for p in patients]),
        "family name, contains (_flt_2)": ("_flt_2_family_name", [p.family_name for p in patients]),
        "MRN, contains (_flt_2)": ("_flt_2_mrn", [p.mrn for p in patients]),
    }
    fab_list("_flt_0_family_name", patients[0].family_name)  # warm
    for label, (arg, values) in baseline.items():
        samples = []
        for v in values[: args.baseline_samples]:
            t0 = time.perf_counter()
            fab_list(arg, v)
            samples.append((time.perf_counter() - t0) * 1000)
        results["fab_modelview"][label] = summary(samples)

    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
