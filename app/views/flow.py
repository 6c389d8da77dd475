"""Patient-flow board: today's appointments at one location, grouped by where the patient is
(expected, waiting, in a room, done), with the next step one click away.

"Today" is the location's local date. The page re-fetches its table every 30 s as a background
refresh: such requests neither keep an idle session alive (app/auth_manager.py) nor write an
audit row; opening the page writes one. Every step goes through app/services/scheduling.py.
"""
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..auth_manager import BACKGROUND_HEADER
from ..extensions import db
from ..models import Appointment, Location, Provider, Room
from ..models.base import utcnow
from ..models.scheduling import STATUS_LABELS
from ..services import audit, registry_stats, scheduling
from ..services.dates import local_day_bounds
from ..services.errors import DomainError, ValidationFailed
from .eligibility import badges as eligibility_badges
from .home import Link, register_home_card

REFRESH_SECONDS = 30

# Where each status puts a row on the board.
GROUP_OF = {
    "booked": "expected", "confirmed": "expected", "arrived": "waiting", "in_room": "in_room",
    "completed": "done", "checked_out": "done", "cancelled": "gone", "no_show": "gone",
}
GROUPS = (
    ("expected", _l("Expected")),
    ("waiting", _l("Arrived, waiting")),
    ("in_room", _l("In a room")),
    ("done", _l("Done")),
    ("gone", _l("No-shows and cancellations")),
)
# The board's steps: name in the URL -> the status it leads to.
STEPS = {"arrive": "arrived", "room": "in_room", "complete": "completed", "checkout": "checked_out",
         "no_show": "no_show"}
STEP_LABELS = {
    "arrive": _l("Check in"), "room": _l("Put in room"), "complete": _l("Complete"),
    "checkout": _l("Check out"), "no_show": _l("No-show"),
}
DONE_MESSAGES = {
    "arrive": _l("The patient of %(time)s is checked in."),
    "room": _l("The patient of %(time)s is in %(room)s."),
    "complete": _l("The visit of %(time)s is completed."),
    "checkout": _l("The patient of %(time)s is checked out."),
    "no_show": _l("The appointment of %(time)s is marked as a no-show."),
}


def now():
    """The current instant (replaced in tests)."""
    return utcnow()


# --------------------------------------------------------------------------- the day at a location

def local_day(location, at):
    """The location's local date at instant `at`, and the UTC bounds [start, end) of that day."""
    day = at.astimezone(ZoneInfo(location.timezone)).date()
    return (day, *local_day_bounds(day, location.timezone))


def _day_query(location, start, end):
    return select(Appointment).where(  # ix_appointment_location_start
        Appointment.location_id == location.id, Appointment.start_at >= start, Appointment.start_at < end)


def _minutes(since, at):
    return max(0, int((at - since).total_seconds() // 60)) if since is not None else None


@dataclass
class Row:
    appointment: Appointment
    group: str
    late: int | None = None  # expected: minutes past the start
    waiting: int | None = None  # arrived: minutes since arrival
    in_room: int | None = None  # in a room: minutes since roomed
    steps: list = field(default_factory=list)


@dataclass
class Board:
    location: Location
    day: object
    groups: dict  # group -> [Row]
    free_rooms: list
    provider: Provider | None  # the clinician's own provider record, when scoped to it

    @property
    def rows(self):
        return [r for rows in self.groups.values() for r in rows]


def build_board(session, location, *, at, provider=None):
    """Today's (local) appointments at `location`, grouped; `provider` narrows to one clinician."""
    day, start, end = local_day(location, at)
    stmt = _day_query(location, start, end).options(
        joinedload(Appointment.patient), joinedload(Appointment.provider), joinedload(Appointment.room),
        joinedload(Appointment.type), selectinload(Appointment.status_changes),
    ).order_by(Appointment.start_at, Appointment.id)
    if provider is not None:
        stmt = stmt.where(Appointment.provider_id == provider.id)
    groups = {key: [] for key, _ in GROUPS}
    for appointment in session.scalars(stmt).unique():
        times = scheduling.status_times(appointment)
        row = Row(appointment, GROUP_OF[appointment.status])
        if row.group == "expected":
            row.late = _minutes(appointment.start_at, at) if at > appointment.start_at else None
        elif row.group == "waiting":
            row.waiting = _minutes(times.get("arrived", (None,))[0], at)
        elif row.group == "in_room":
            row.in_room = _minutes(times.get("in_room", (None,))[0], at)
        row.steps = [s for s, status in STEPS.items() if status in scheduling.TRANSITIONS[appointment.status]]
        groups[row.group].append(row)
    groups["waiting"].sort(key=lambda r: -(r.waiting or 0))  # the longest wait first
    occupied = select(Appointment.room_id).where(Appointment.status == "in_room", Appointment.room_id.isnot(None))
    free_rooms = list(session.scalars(select(Room).where(
        Room.location_id == location.id, Room.active.is_(True), Room.id.notin_(occupied)).order_by(Room.name)))
    return Board(location, day, groups, free_rooms, provider)


def provider_of(user):
    """The clinician's provider record (their own patients by default), or None."""
    return registry_stats.provider_of(db.session, user) if getattr(user, "is_authenticated", False) else None


def default_location(provider):
    """The clinician's usual location, else the first active one."""
    if provider is not None and provider.default_location is not None and provider.default_location.active:
        return provider.default_location
    return db.session.scalar(select(Location).where(Location.active.is_(True)).order_by(Location.name).limit(1))


def _clock(local):
    return format_time(local, "short", locale=str(get_locale() or "en"))


# --------------------------------------------------------------------------- the screen

class FlowBoardView(BaseView):
    route_base = "/flow"
    class_permission_name = "FlowBoard"
    # step() also needs ("can_update_status", "Appointment"), checked inside it.
    method_permission_name = {"index": "read", "board": "read", "step": "read"}
    default_view = "index"

    def _context(self):
        """The board the request asks for: ?location=<id>, ?all=1 (a clinician's toggle)."""
        provider = provider_of(g.user)
        location_id = request.args.get("location", type=int)
        if location_id is not None:
            location = db.session.get(Location, location_id) or abort(404)
        else:
            location = default_location(provider)
        show_all = provider is None or request.args.get("all") == "1"
        board = build_board(db.session, location, at=now(), provider=None if show_all else provider) \
            if location is not None else None
        return {
            "board": board, "location": location, "own_provider": provider, "show_all": show_all,
            "groups": GROUPS, "step_labels": STEP_LABELS, "status_labels": STATUS_LABELS,
            "can_update": self.appbuilder.sm.has_access("can_update_status", "Appointment"),
            "can_collect": self.appbuilder.sm.has_access("can_write", "Copay"),
            "clock": _clock, "refresh_seconds": REFRESH_SECONDS,
            "day_text": format_date(board.day, "full", locale=str(get_locale() or "en")) if board else "",
            "appointment_url": _appointment_url,
            # "Verified today?" per row: one query for the whole board
            "eligibility": eligibility_badges([r.appointment for r in board.rows]) if board else None,
        }

    def _audit_opening(self, ctx):
        board = ctx["board"]
        details = {"location": ctx["location"].id if ctx["location"] else None,
                   "scope": "all" if ctx["show_all"] else "mine"}
        if board is not None:
            details.update(date=board.day.isoformat(),
                           patients=sorted({r.appointment.patient_id for r in board.rows}))
        audit.record(db.engine, action="view", object_type="FlowBoard", details=details)

    @expose("/")
    @has_access
    def index(self):
        ctx = self._context()
        self._audit_opening(ctx)
        locations = list(db.session.scalars(select(Location).where(Location.active.is_(True)).order_by(Location.name)))
        return self.render_template("flow/index.html", locations=locations, **ctx)

    @expose("/board")
    @has_access
    def board(self):
        """The table alone, for the page's own refresh; a background refresh is not an opening."""
        ctx = self._context()
        if request.headers.get(BACKGROUND_HEADER) != "1":
            self._audit_opening(ctx)
        return render_template("flow/_board.html", **ctx), 200, {"Cache-Control": "no-store"}

    @expose("/<int:pk>/<step>", methods=["POST"])
    @has_access
    def step(self, pk, step):
        """One click: check in, put in room, complete, check out or no-show (scheduling service)."""
        if not self.appbuilder.sm.has_access("can_update_status", "Appointment"):
            abort(403)
        if step not in STEPS:
            abort(404)
        appointment = db.session.get(Appointment, pk) or abort(404)
        version = request.form.get("version", type=int)
        when = _clock(appointment.start_local)
        try:
            if step == "room":
                scheduling.room_patient(db.session, appointment, request.form.get("room", type=int),
                                        expected_version=version, actor=g.user)
            elif step == "no_show":
                scheduling.mark_no_show(db.session, appointment, expected_version=version, actor=g.user)
            else:
                scheduling.transition(db.session, appointment, STEPS[step], expected_version=version, actor=g.user)
        except DomainError as exc:
            db.session.rollback()
            return _answer(False, _messages(exc), appointment.location_id)
        room = appointment.room.name if appointment.room is not None else ""
        message = str(DONE_MESSAGES[step]) % {"time": when, "room": room}
        return _answer(True, [message], appointment.location_id)


def _messages(exc):
    if isinstance(exc, ValidationFailed):
        return [m for _, m in exc.problems] or [exc.message]
    return list(getattr(exc, "messages", None) or [exc.message])


def _answer(ok, messages, location_id):
    """JSON for the page's script; otherwise flash and back to the board (no patient data in either)."""
    texts = [str(m) for m in messages]
    if request.accept_mimetypes.best == "application/json":
        return jsonify(ok=ok, messages=texts), 200 if ok else 409
    for text in texts:
        flash(text, "success" if ok else "danger")
    return redirect(url_for("FlowBoardView.index", location=location_id, all=request.form.get("all") or None))


def _appointment_url(appointment):
    if "AppointmentView.show" in current_app.view_functions:
        return url_for("AppointmentView.show", pk=appointment.id)
    return None


# --------------------------------------------------------------------------- home cards

def _today_card(user, ctx):
    provider = provider_of(user)
    location = default_location(provider)
    if location is None:
        return None
    _, start, end = local_day(location, now())
    sub = _day_query(location, start, end).subquery()
    counts = dict(db.session.execute(select(sub.c.status, func.count()).group_by(sub.c.status)).all())
    total = sum(n for status, n in counts.items() if status not in ("cancelled", "no_show"))
    arrived = sum(counts.get(s, 0) for s in ("arrived", "in_room", "completed", "checked_out"))
    return {"value": total,
            "text": _l("appointments today at %(location)s: %(arrived)d arrived, %(waiting)d waiting now",
                       location=location.name, arrived=arrived, waiting=counts.get("arrived", 0)),
            "links": [Link(_l("Flow board"), url_for("FlowBoardView.index", location=location.id))]}


def _my_day_card(user, ctx):
    provider = provider_of(user)
    if provider is None:
        return None
    location = default_location(provider)
    if location is None:
        return None
    _, start, end = local_day(location, now())
    remaining = list(db.session.execute(
        select(Appointment.start_local, Appointment.status).where(
            Appointment.provider_id == provider.id, Appointment.start_at >= start, Appointment.start_at < end,
            Appointment.status.in_(("booked", "confirmed", "arrived", "in_room"))).order_by(Appointment.start_at)))
    waiting = [r for r in remaining if r.status in ("booked", "confirmed", "arrived")]
    if waiting:
        text = _l("Next patient at %(time)s; %(num)d still to see today.", time=_clock(waiting[0].start_local),
                  num=len(remaining))
    else:
        text = _l("No more patients today.")
    return {"value": len(remaining), "text": text,
            "links": [Link(_l("My flow board"), url_for("FlowBoardView.index", location=location.id))]}


register_home_card("flow_today", _l("Today"), _today_card, permission=("can_read", "FlowBoard"), order=5)
register_home_card("flow_my_day", _l("My day"), _my_day_card, permission=("can_read", "FlowBoard"), order=6)
