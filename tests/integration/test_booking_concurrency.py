"""Concurrent requests for the same time: exactly one wins, the others get a clear conflict."""
from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import Appointment
from app.services import scheduling
from app.services.scheduling import AppointmentConflictError
from tests.concurrency import race
from tests.factories import PatientFactory
from tests.scheduling_setup import make_clinic

THREADS = 8


def test_eight_simultaneous_bookings_of_one_provider_give_exactly_one_appointment(app):
    """Each thread has its own connection and session; all check at once, then insert.

    On PostgreSQL the exclusion constraint makes the losers wait for the winner and then
    fail; on SQLite writers are serialised (busy_timeout) and the trigger refuses the
    losers. Either way the loser's error is the same AppointmentConflictError.
    """
    c = make_clinic()
    ids = dict(provider=c.provider.id, location=c.location.id, type=c.type.id)
    patients = [PatientFactory().id for _ in range(THREADS)]

    def book(session, i):
        scheduling.book(session, patient=patients[i], start_local=datetime(2027, 1, 11, 9), **ids)
        return "booked"

    results = race(app, THREADS, book, expected=AppointmentConflictError)
    assert results.count("booked") == 1, results
    losers = [r for r in results if r != "booked"]
    assert all(isinstance(r, AppointmentConflictError) for r in losers), losers
    assert all(r.status_code == 409 and r.conflicts and r.conflicts[0].kind == "provider" for r in losers)
    active = db.session.scalar(select(func.count()).select_from(Appointment).where(
        Appointment.status.notin_(("cancelled", "no_show"))))
    assert active == 1
