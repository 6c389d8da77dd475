"""What the calendar shows: working blocks, time off and appointments per provider and local day.

Read-only. One query per kind (hours, exceptions, appointments) for all the providers and
days asked, each through the (provider_id, start_at) indexes, so a day of 30 providers costs
the same four queries on a database with millions of past appointments. Everything is laid
out in the location's wall clock, built from local times (a DST day has 23 or 25 hours).
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from ..models import Appointment, Location, Provider
from ..models.scheduling import ProviderException, ProviderHours
from . import scheduling
from .dates import local_day_bounds

DEFAULT_FIRST, DEFAULT_LAST = time(8), time(18)  # the rows shown on a day nobody works


@dataclass
class Block:
    """A stretch of local wall-clock time on one day: [start, end)."""

    start: datetime
    end: datetime
    kind: str = ""


@dataclass
class Item:
    """An appointment as the calendar lays it out."""

    appointment: Appointment
    start: datetime  # local wall clock of the view's location
    end: datetime
    lane: int = 0
    lanes: int = 1


@dataclass
class CalendarColumn:
    """One provider on one local day."""

    provider: Provider
    day: date
    tz: str = None
    hours: list = field(default_factory=list)  # Blocks the provider works at the location
    away: list = field(default_factory=list)  # Blocks of leave, holiday, blocked time
    items: list = field(default_factory=list)  # Items, active and inactive, by start

    def working(self, start, end):
        """True if [start, end) lies inside a working block and outside any time off."""
        return (any(b.start <= start and end <= b.end for b in self.hours)
                and not any(b.start < end and start < b.end for b in self.away))

    def away_kind(self, start, end):
        return next((b.kind for b in self.away if b.start < end and start < b.end), None)


def columns(session, providers, days, location):
    """CalendarColumns for every (day, provider), days outer: [[col per provider] per day].

    Hours are the blocks at `location`; appointments and time off are the provider's
    wherever they are (a provider is busy while at another location too), in `location`'s zone.
    """
    tz_name = location.timezone
    ids = [p.id for p in providers]
    days = sorted(days)
    grid = {(d, p.id): CalendarColumn(p, d, tz_name) for d in days for p in providers}
    if not ids or not days:
        return []
    window_start, _ = local_day_bounds(days[0], tz_name)
    _, window_end = local_day_bounds(days[-1], tz_name)

    hours = session.scalars(select(ProviderHours).where(
        ProviderHours.provider_id.in_(ids), ProviderHours.location_id == location.id,
        ProviderHours.weekday.in_({d.weekday() for d in days}),
        or_(ProviderHours.valid_from.is_(None), ProviderHours.valid_from <= days[-1]),
        or_(ProviderHours.valid_to.is_(None), ProviderHours.valid_to >= days[0]),
    ).order_by(ProviderHours.start_time))
    for block in hours:
        for d in days:
            if block.weekday == d.weekday() and not (block.valid_from and block.valid_from > d) and not (
                    block.valid_to and block.valid_to < d):
                grid[(d, block.provider_id)].hours.append(
                    Block(datetime.combine(d, block.start_time), datetime.combine(d, block.end_time)))

    away = session.scalars(select(ProviderException).where(
        ProviderException.provider_id.in_(ids),
        ProviderException.start_at < window_end, ProviderException.end_at > window_start))
    for item in away:
        start = scheduling.utc_to_local(item.start_at, tz_name)
        end = scheduling.utc_to_local(item.end_at, tz_name)
        for d in days:
            day_start, day_end = datetime.combine(d, time()), datetime.combine(d + timedelta(days=1), time())
            if start < day_end and day_start < end:
                grid[(d, item.provider_id)].away.append(Block(max(start, day_start), min(end, day_end), item.kind))

    # scheduling.overlapping bounds start_at from below too, so the index reads only the window.
    appointments = session.scalars(
        select(Appointment).where(Appointment.provider_id.in_(ids),
                                  *scheduling.overlapping(window_start, window_end))
        .options(joinedload(Appointment.patient), joinedload(Appointment.type), joinedload(Appointment.location))
        .order_by(Appointment.start_at, Appointment.id))
    for appointment in appointments:
        if appointment.timezone == tz_name:
            start = appointment.start_local  # the wall-clock time the patient was given
        else:
            start = scheduling.utc_to_local(appointment.start_at, tz_name)
        end = start + (appointment.end_at - appointment.start_at)
        column = grid.get((start.date(), appointment.provider_id))
        if column is None:  # began the evening before: show it on the day it reaches into
            column = grid.get((end.date(), appointment.provider_id))
        if column is not None:
            column.items.append(Item(appointment, start, end))

    out = []
    for d in days:
        row = [grid[(d, p.id)] for p in providers]
        for column in row:
            _assign_lanes(column.items)
        out.append(row)
    return out


def _assign_lanes(items):
    """Side by side where appointments overlap (overbooks, cancelled ones under a new booking)."""
    group, group_end = [], None
    for item in sorted(items, key=lambda i: (i.start, i.appointment.id)):
        if group and item.start >= group_end:
            _close(group)
            group = []
        if not group:
            group_end = item.end
        lane_ends = {}
        for other in group:
            lane_ends[other.lane] = max(lane_ends.get(other.lane, other.end), other.end)
        item.lane = next(n for n in range(len(group) + 1) if lane_ends.get(n, item.start) <= item.start)
        group.append(item)
        group_end = max(group_end, item.end)
    if group:
        _close(group)


def _close(group):
    lanes = max(i.lane for i in group) + 1
    for item in group:
        item.lanes = lanes


def time_rows(cols, step):
    """The rows of a day as offsets from local midnight, every `step` minutes, from the earliest
    working hour or appointment of `cols` to the latest (08:00-18:00 when there is none), starting
    on a whole hour. Wall-clock rows: a DST day shows the same rows, the skipped ones marked."""
    spans = []
    for c in cols:
        midnight = datetime.combine(c.day, time())
        spans += [(b.start - midnight, b.end - midnight) for b in c.hours]
        spans += [(i.start - midnight, i.end - midnight) for i in c.items]
    day = timedelta(days=1)
    first = max(timedelta(0), min((s for s, _ in spans), default=_td(DEFAULT_FIRST)))
    first -= first % timedelta(hours=1)
    last = min(day, max((e for _, e in spans), default=_td(DEFAULT_LAST)))
    rows, cursor, step = [], first, timedelta(minutes=step)
    while cursor < last:
        rows.append(cursor)
        cursor += step
    return rows


def _td(t):
    return timedelta(hours=t.hour, minutes=t.minute)


def exists(moment, tz_name):
    """False for a wall-clock time the clocks skip (spring forward)."""
    return scheduling.local_to_utc(moment, tz_name) is not None


def offset(rows, since_midnight, step):
    """Where a time of day falls on the rows, in rows from the top (fractions inside a row)."""
    if not rows:
        return 0.0
    return (since_midnight - rows[0]).total_seconds() / 60 / step


def week_days(day, first_weekday=0):
    """The 7 local dates of the week holding `day`, starting on `first_weekday` (0 = Monday)."""
    start = day - timedelta(days=(day.weekday() - first_weekday) % 7)
    return [start + timedelta(days=n) for n in range(7)]


def default_location(session, provider=None):
    """The provider's usual location, else the first active location."""
    if provider is not None and provider.default_location is not None and provider.default_location.active:
        return provider.default_location
    return session.scalars(select(Location).where(Location.active.is_(True)).order_by(Location.name)).first()


def providers_at(session, location):
    """Active providers who work at or usually belong to `location`, by name."""
    works_there = select(ProviderHours.provider_id).where(ProviderHours.location_id == location.id)
    return list(session.scalars(select(Provider).where(
        Provider.active.is_(True),
        or_(Provider.default_location_id == location.id, Provider.id.in_(works_there)),
    ).order_by(Provider.family_name, Provider.given_name)))


def providers_by_id(session, ids):
    """The providers with these ids, in the order given (unknown ids dropped)."""
    found = {p.id: p for p in session.scalars(select(Provider).where(Provider.id.in_(ids)))} if ids else {}
    return [found[i] for i in ids if i in found]
