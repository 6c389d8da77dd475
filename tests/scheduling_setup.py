"""A small clinic to book in: one New York location, a provider working Mon-Fri 09-17, a room, a type."""
from datetime import datetime, time, timezone
from types import SimpleNamespace

from app.extensions import db
from app.services import scheduling
from tests.factories import PatientFactory, ProviderFactory

NY = "America/New_York"


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def make_clinic(weekdays=range(5), start=time(9), end=time(17)):
    """Objects for booking tests; the provider works `weekdays` from `start` to `end`, New York time."""
    session = db.session
    location = scheduling.add_location(session, name="Main street", timezone=NY, address="1 Main St")
    room = scheduling.Room(location=location, name="Room 1")
    session.add(room)
    session.commit()
    kind = scheduling.add_type(session, name="Follow-up", default_duration=30, colour="#aa3300")
    provider = ProviderFactory(colour="#0055aa", default_location_id=location.id)
    for weekday in weekdays:
        scheduling.set_hours(session, provider=provider, location=location, weekday=weekday, start=start, end=end)
    patient = PatientFactory()
    return SimpleNamespace(session=session, location=location, room=room, type=kind, provider=provider,
                           patient=patient)


def book(c, start_local, **overrides):
    """Book for the clinic's patient and provider unless told otherwise."""
    args = dict(patient=c.patient, provider=c.provider, location=c.location, type=c.type, start_local=start_local)
    args.update(overrides)
    return scheduling.book(c.session, **args)
