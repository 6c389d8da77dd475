#!/usr/bin/env python
"""Scheduling benchmark: the day view of 30 providers, find_slots over 14 days and one booking,
on a database holding millions of appointments.

    .venv/bin/python bench/schedule_bench.py sqlite [--appointments 5000000] [--stop-seeding-at 16:00]
    .venv/bin/python bench/schedule_bench.py pg [--appointments 5000000] [--json out.json]

The database (SQLite /tmp/clinicdesk_bench_sched/clinicdesk.db, or the PostgreSQL database
clinicdesk_bench_sched, created here) is seeded once and reused: 300 providers working
Mon-Fri 07:30-18:30 at two locations (New York and Los Angeles time), 100,000 demo patients
and appointments over three years (2.5 years back, 6 months ahead). Each provider-day is
filled by demo_seed.day_plan (sequential, non-overlapping slots within the hours); a patient's
slot follows from the UTC 15-minute grid, so no patient is ever double-booked. Today and the
next 14 days are written first, the other days in random order, so a seeding stopped at
--stop-seeding-at still spreads over the whole period. Rows go in with Core batch inserts
(SQLite) or COPY (PostgreSQL) with the appointment indexes and the overlap guard lifted, then
both are rebuilt: on PostgreSQL re-adding the exclusion constraints proves no overlap slipped in.
No status history rows are written for the bench appointments (the screens measured do not
read them).

Measured in-process (no network), median and p95 in ms:
  (i)   GET /schedule/day?date=...&provider=... x30 through the Flask test client, signed in as
        FrontDesk (CalendarView.day); without that view, the equivalent query (appointments of
        30 providers on one day with patient and type eager-loaded);
  (ii)  scheduling.find_slots for one provider over 14 days (first 20 slots, and every slot);
  (iii) scheduling.book (checks, overlap check, insert, commit), then the booking is cancelled
        (not timed) so the next sample starts from the same state.
"""
import argparse
import datetime as dt
import json
import os
import random
import re
import statistics
import sys
import time
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import click  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

PASSWORD = "bench password long enough 123"
SQLITE_DIR = "/tmp/clinicdesk_bench_sched"
PG_ADMIN = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432")
PG_NAME = "clinicdesk_bench_sched"
PROVIDERS, PATIENTS = 300, 100_000
BACK_DAYS, AHEAD_DAYS = 913, 182
HOURS = ((dt.time(7, 30), dt.time(12, 0)), (dt.time(12, 30), dt.time(18, 30)))
BATCH = 20_000
FILL = 0.97


def database_url(backend):
    if backend == "sqlite":
        os.makedirs(SQLITE_DIR, exist_ok=True)
        return f"sqlite:///{SQLITE_DIR}/clinicdesk.db"
    admin = sa.create_engine(f"{PG_ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": PG_NAME}) is None:
            conn.execute(text(f'CREATE DATABASE "{PG_NAME}"'))
    admin.dispose()
    return f"{PG_ADMIN}/{PG_NAME}"


def summary(samples):
    samples = sorted(samples)
    return {"median_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 2), "n": len(samples)}


# --------------------------------------------------------------------------- seeding

def ensure_base(session, app):
    """Schema, roles, patients, locations, types and the bench providers with their hours."""
    from flask_migrate import upgrade

    from app.models import Patient, Provider, ProviderHours
    from app.security import sync_permissions_and_roles
    from app.services import demo_seed

    upgrade()
    sync_permissions_and_roles(app.appbuilder)
    session.commit()
    if session.scalar(select(func.count()).select_from(Patient)) == 0:
        with click.progressbar(length=PATIENTS, label=f"Seeding {PATIENTS:,} patients") as bar:
            demo_seed.seed_patients(session, PATIENTS, progress=bar.update)
    locations, types, _ = demo_seed.ensure_schedule_setup(session)
    have = session.scalar(select(func.count()).select_from(Provider))
    if have < PROVIDERS:
        rows = [dict(given_name="Bench", family_name=f"Provider {i:03d}", credentials="MD", active=True,
                     colour=demo_seed.PALETTE_PROVIDERS[i % 8], default_location_id=locations[i % 2].id,
                     created_on=dt.datetime.now(dt.timezone.utc), changed_on=dt.datetime.now(dt.timezone.utc))
                for i in range(have, PROVIDERS)]
        session.execute(insert(Provider.__table__), rows)
        session.commit()
    providers = session.execute(select(Provider.id, Provider.default_location_id).order_by(Provider.id)).all()
    if session.scalar(select(func.count()).select_from(ProviderHours)) == 0:
        session.execute(insert(ProviderHours.__table__), [
            dict(provider_id=pid, location_id=loc, weekday=d, start_time=a, end_time=b)
            for pid, loc in providers for d in range(5) for a, b in HOURS])
        session.commit()
    return locations, types, providers


def plan_days(today, r):
    """Today and the next 14 days first, then every other day of the period in random order."""
    first = [today + dt.timedelta(days=i) for i in range(15)]
    rest = [today + dt.timedelta(days=i) for i in range(-BACK_DAYS, AHEAD_DAYS + 1) if not 0 <= i < 15]
    r.shuffle(rest)
    return [d for d in first + rest if d.weekday() < 5]


def status_for(r, start_at, now):
    x = r.random()
    if start_at < now:
        return "no_show" if x < 0.07 else "cancelled" if x < 0.15 else "completed" if x < 0.2 else "checked_out"
    return "cancelled" if x < 0.08 else "confirmed" if x < 0.35 else "booked"


def generate(day_list, locations, types, providers, patient_ids, now, r):
    """Yield appointment row dicts, day by day."""
    from app.services import demo_seed

    weighted = demo_seed._weighted([((k, k.default_duration), share) for k, (*_, share) in
                                    zip(types, demo_seed.DEMO_TYPES) if not k.telehealth])
    loc_by_id = {loc.id: loc for loc in locations}
    n_patients, n_providers = len(patient_ids), len(providers)
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    for day in day_list:
        for index, (pid, loc_id) in enumerate(providers):
            loc = loc_by_id[loc_id]
            tz = ZoneInfo(loc.timezone)
            blocks = [(dt.datetime.combine(day, a), dt.datetime.combine(day, b)) for a, b in HOURS]
            for start_local, (kind, minutes) in demo_seed.day_plan(r, blocks, weighted, FILL):
                start_at = start_local.replace(tzinfo=tz).astimezone(dt.timezone.utc)
                end_at = start_at + dt.timedelta(minutes=minutes)
                # Within one UTC 15-minute slot every provider gets a different patient, and a
                # patient's next turn is at least PATIENTS/PROVIDERS slots later: never double-booked.
                slot = int((start_at - epoch).total_seconds()) // 900
                patient = patient_ids[(index + slot * n_providers) % n_patients]
                status = status_for(r, start_at, now)
                yield dict(patient_id=patient, provider_id=pid, location_id=loc.id, room_id=None, type_id=kind.id,
                           start_at=start_at, end_at=end_at, start_local=start_local, timezone=loc.timezone,
                           status=status, overbook=False, cancel_reason="Bench" if status == "cancelled" else None,
                           version=1, created_on=start_at - dt.timedelta(days=7), changed_on=start_at)


def seed_appointments(session, target, stop_at, locations, types, providers):
    from app.models import Appointment, Patient
    from app.models.scheduling import DROP_OVERLAP_DDL, OVERLAP_DDL

    table = Appointment.__table__
    have = session.scalar(select(func.count()).select_from(table))
    if have >= target * 0.99:
        print(f"Reusing {have:,} appointments.")
        return have
    conn = session.connection()
    dialect = conn.dialect.name
    if have:
        print(f"Found {have:,} appointments (fewer than {target:,}): starting again.")
        conn.execute(text("DELETE FROM appointment_status_change"))
        conn.execute(table.delete())
    for statement in DROP_OVERLAP_DDL[dialect]:
        conn.exec_driver_sql(statement)
    for index in table.indexes:
        index.drop(conn, checkfirst=True)
    session.commit()

    patient_ids = session.scalars(select(Patient.id).order_by(Patient.id)).all()
    assert len(patient_ids) >= 4 * len(providers), "too few patients for the patient grid"
    now = dt.datetime.now(dt.timezone.utc)
    today = now.astimezone(ZoneInfo(locations[0].timezone)).date()
    r = random.Random(11)
    rows_iter = generate(plan_days(today, r), locations, types, providers, patient_ids, now, r)
    columns = ["patient_id", "provider_id", "location_id", "room_id", "type_id", "start_at", "end_at", "start_local",
               "timezone", "status", "overbook", "cancel_reason", "version", "created_on", "changed_on"]
    done, started, stopped = 0, time.perf_counter(), False
    with click.progressbar(length=target, label=f"Seeding {target:,} appointments ({dialect})") as bar:
        while done < target:
            if stop_at and dt.datetime.now(dt.timezone.utc) >= stop_at:
                stopped = True
                break
            batch = []
            for row in rows_iter:
                batch.append(row)
                if len(batch) >= min(BATCH, target - done):
                    break
            if not batch:
                break
            if dialect == "postgresql":
                raw = session.connection().connection.driver_connection
                with raw.cursor() as cur:
                    with cur.copy(f"COPY appointment ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row([row[c] for c in columns])
            else:
                session.execute(insert(table), batch)
            session.commit()
            done += len(batch)
            bar.update(len(batch))
    print(f"Inserted {done:,} appointments in {time.perf_counter() - started:.0f} s"
          + (" (stopped at the deadline)" if stopped else ""))
    started = time.perf_counter()
    conn = session.connection()
    for index in table.indexes:
        index.create(conn)
    for statement in OVERLAP_DDL[dialect]:  # PostgreSQL: fails if any two active appointments overlap
        conn.exec_driver_sql(statement)
    session.commit()
    session.connection().exec_driver_sql("ANALYZE")
    session.commit()
    print(f"Indexes and overlap guard rebuilt in {time.perf_counter() - started:.0f} s")
    return session.scalar(select(func.count()).select_from(table))


def overlaps(session):
    """Active appointments of a provider that overlap the previous one (0 expected)."""
    return session.scalar(text(
        "SELECT count(*) FROM (SELECT start_at, lag(end_at) OVER (PARTITION BY provider_id ORDER BY start_at) AS prev "
        "FROM appointment WHERE status NOT IN ('cancelled', 'no_show') AND NOT overbook) t WHERE start_at < prev"))


# --------------------------------------------------------------------------- measuring

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("backend", choices=("sqlite", "pg"))
    ap.add_argument("--appointments", type=int, default=5_000_000)
    ap.add_argument("--stop-seeding-at", help="HH:MM UTC: stop inserting then, measure what is there")
    ap.add_argument("--seed-only", action="store_true")
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--check-overlaps", action="store_true", help="count overlapping active appointments (slow)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    from app import create_app
    from app.extensions import db

    url = database_url(args.backend)
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, RATELIMIT_ENABLED=False)
    stop_at = None
    if args.stop_seeding_at:
        h, m = map(int, args.stop_seeding_at.split(":"))
        stop_at = dt.datetime.now(dt.timezone.utc).replace(hour=h, minute=m, second=0, microsecond=0)
    with app.app_context():
        session = db.session
        locations, types, providers = ensure_base(session, app)
        total = seed_appointments(session, args.appointments, stop_at, locations, types, providers)
        results = {"database": db.engine.dialect.name, "appointments": total, "providers": len(providers),
                   "load_before": open("/proc/loadavg").read().split()[:3]}
        if args.check_overlaps:
            results["overlapping_active_appointments"] = overlaps(session)
        session.remove()
    if args.seed_only:
        print(json.dumps(results, indent=2))
        return
    results.update(measure(app, args.samples))
    results["load_after"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


def measure(app, samples):
    from sqlalchemy.orm import joinedload

    from app.extensions import db
    from app.models import Appointment, AppointmentType, Location, Patient, Provider
    from app.services import scheduling

    rng = random.Random(5)
    out = {}
    with app.app_context():
        sm = app.appbuilder.sm
        if sm.find_user(username="bench_frontdesk") is None:
            sm.add_user("bench_frontdesk", "Bench", "User", "bench@clinic.invalid", sm.find_role("FrontDesk"),
                        password=PASSWORD)
        session = db.session
        ny = session.scalars(select(Location).order_by(Location.id)).first()
        today = dt.datetime.now(ZoneInfo(ny.timezone)).date()
        weekdays = [today + dt.timedelta(days=i) for i in range(-30, 15) if (today + dt.timedelta(days=i)).weekday() < 5]
        ny_providers = session.scalars(select(Provider.id).where(Provider.default_location_id == ny.id)
                                       .order_by(Provider.id)).all()
        kind = session.scalar(select(AppointmentType).where(AppointmentType.name == "Office visit"))
        day_cases = [(rng.choice(weekdays), rng.sample(ny_providers, 30)) for _ in range(samples)]
        has_view = "CalendarView.day" in app.view_functions
        session.remove()

    # (i) the day view of 30 providers
    samples_i, sizes = [], []
    if has_view:
        client = app.test_client()
        page = client.get("/login/").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        resp = client.post("/login/", data={"username": "bench_frontdesk", "password": PASSWORD, "csrf_token": token})
        assert resp.status_code == 302, "bench login failed"
        query = lambda d, ps: f"/schedule/day?date={d.isoformat()}&location={ny.id}&" + "&".join(f"provider={p}" for p in ps)  # noqa: E731
        client.get(query(*day_cases[0]))  # warm
        for d, ps in day_cases:
            t0 = time.perf_counter()
            resp = client.get(query(d, ps))
            samples_i.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200, resp.status_code
            sizes.append(len(resp.data))
        out["day_view"] = {"measured": "GET /schedule/day, 30 providers (CalendarView.day)", **summary(samples_i),
                           "median_kb": round(statistics.median(sizes) / 1024, 1)}
    else:
        with app.app_context():
            session = db.session
            counts = []
            for d, ps in day_cases:
                since = dt.datetime.combine(d, dt.time(), ZoneInfo(ny.timezone)).astimezone(dt.timezone.utc)
                t0 = time.perf_counter()
                rows = session.scalars(select(Appointment).options(joinedload(Appointment.patient),
                                                                   joinedload(Appointment.type))
                                       .where(Appointment.provider_id.in_(ps), Appointment.start_at >= since,
                                              Appointment.start_at < since + dt.timedelta(days=1))
                                       .order_by(Appointment.start_at)).all()
                samples_i.append((time.perf_counter() - t0) * 1000)
                counts.append(len(rows))
                session.expunge_all()
            out["day_view"] = {"measured": "query: 30 providers' day, patient and type eager-loaded (no CalendarView yet)",
                               **summary(samples_i), "median_rows": statistics.median(counts)}
            session.remove()

    with app.app_context():
        session = db.session
        # (ii) find_slots over 14 days
        for label, limit in (("find_slots_first_20", 20), ("find_slots_all_14_days", 10_000)):
            times, found = [], []
            for _ in range(samples):
                pid = rng.choice(ny_providers)
                t0 = time.perf_counter()
                slots = scheduling.find_slots(session, provider=pid, type=kind.id, start_date=today,
                                              end_date=today + dt.timedelta(days=13), limit=limit)
                times.append((time.perf_counter() - t0) * 1000)
                found.append(len(slots))
                session.expunge_all()
            out[label] = {**summary(times), "median_slots": statistics.median(found)}

        # (iii) a booking, overlap check included; cancelled afterwards (not timed)
        lo, hi = session.execute(select(func.min(Patient.id), func.max(Patient.id))).one()
        times, conflicts = [], 0
        for _ in range(samples):
            pid = rng.choice(ny_providers)
            slots = scheduling.find_slots(session, provider=pid, type=kind.id, start_date=today + dt.timedelta(days=1),
                                          end_date=today + dt.timedelta(days=30), limit=50)
            if not slots:
                continue
            slot = rng.choice(slots)
            patient = session.get(Patient, rng.randint(lo, hi))
            if patient is None or patient.status != "active":
                continue
            t0 = time.perf_counter()
            try:
                appointment = scheduling.book(session, patient=patient.id, provider=pid, location=slot.location_id,
                                              type=kind.id, start_local=slot.start_local)
            except (scheduling.AppointmentConflictError, scheduling.ValidationFailed):
                conflicts += 1
                continue
            finally:
                elapsed = (time.perf_counter() - t0) * 1000
            times.append(elapsed)
            scheduling.cancel(session, appointment, reason="bench")
            session.expunge_all()
        out["book"] = {**summary(times), "refused": conflicts}
        session.remove()
    return out


if __name__ == "__main__":
    main()
