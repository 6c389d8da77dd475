"""The scheduling calendar: day (providers side by side) and week (one provider) grids, drag to move.

Server-rendered; app/static/js/calendar.js adds click-to-book and drag-and-drop. A move goes
through scheduling.reschedule() like every other door, so the same conflicts are refused.
"""
from datetime import date, datetime, timedelta

from babel import Locale
from babel.dates import format_datetime, format_skeleton, format_time
from flask import flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from ..extensions import db
from ..models import Appointment, Location, Provider
from ..models.scheduling import STATUS_LABELS
from ..services import audit, scheduling
from ..services import calendar as cal
from ..services.errors import DomainError, StaleRecordError, ValidationFailed
from .eligibility import badges as eligibility_badges

MOVABLE = ("booked", "confirmed")
AWAY_LABELS = {"leave": _l("On leave"), "holiday": _l("Holiday"), "blocked": _l("Blocked")}
MAX_COLUMNS = 60


def _step(app_config):
    """SCHEDULING_SLOT_STEP minutes per row when it divides an hour, else 15."""
    step = app_config.get("SCHEDULING_SLOT_STEP") or 15
    return step if 5 <= step <= 60 and 60 % step == 0 else 15


def _text_colour(hex_colour):
    """Black or white, whichever reads better on the type's colour."""
    try:
        r, g_, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    except (TypeError, ValueError):
        return "#000"
    return "#000" if (0.299 * r + 0.587 * g_ + 0.114 * b) > 150 else "#fff"


def _parse_day(text):
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _own_provider():
    return db.session.query(Provider).filter_by(user_id=g.user.id).one_or_none()


def _url(endpoint, **values):
    """url_for, or None while the endpoint is not registered (another helper's screen)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


class CalendarView(BaseView):
    route_base = "/schedule"
    class_permission_name = "Appointment"
    method_permission_name = {"index": "read", "day": "read", "week": "read", "move": "write"}
    default_view = "index"

    # ------------------------------------------------------------------ selection

    def _location(self, provider=None):
        wanted = request.args.get("location", type=int)
        location = db.session.get(Location, wanted) if wanted else None
        return location or cal.default_location(db.session, provider)

    def _today(self, location):
        return datetime.now(scheduling.zone(location.timezone)).date()

    # ------------------------------------------------------------------ pages

    @expose("/")
    @has_access
    def index(self):
        """Clinicians start on their own day; everyone else on the day of their location."""
        return self._day(None)

    @expose("/day")
    @has_access
    def day(self):
        return self._day(_parse_day(request.args.get("date")))

    def _day(self, day):
        ids = request.args.getlist("provider", type=int)[:MAX_COLUMNS]
        own = _own_provider()
        if ids:
            providers = cal.providers_by_id(db.session, ids)
            location = self._location(providers[0] if providers else None)
        elif own is not None:
            location = self._location(own)
            providers = [own]
        else:
            location = self._location()
            providers = cal.providers_at(db.session, location) if location else []
        if location is None:
            return self._empty()
        day = day or self._today(location)
        columns = cal.columns(db.session, providers, [day], location)[0] if providers else []
        grid = self._grid(columns, location)
        candidates = list(providers) if not ids and own is None else cal.providers_at(db.session, location)
        candidates += [p for p in providers if p not in candidates]
        self._audit("day", day, providers, grid)
        return self.render_template(
            "calendar/day.html", grid=grid, location=location, day=day,
            title=format_date(day, "full"), providers=providers, candidates=candidates,
            locations=self._locations(), own=own,
            nav=self._nav(".day", day, 1, provider=[p.id for p in providers], location=location.id),
        )

    @expose("/week")
    @has_access
    def week(self):
        wanted = request.args.get("provider", type=int)
        own = _own_provider()
        provider = db.session.get(Provider, wanted) if wanted else own
        location = self._location(provider)
        if location is None:
            return self._empty()
        if provider is None:
            provider = next(iter(cal.providers_at(db.session, location)), None)
        day = _parse_day(request.args.get("date")) or self._today(location)
        days = cal.week_days(day, Locale.parse(str(get_locale())).first_week_day)
        columns = [row[0] for row in cal.columns(db.session, [provider], days, location)] if provider else []
        grid = self._grid(columns, location, week=True)
        self._audit("week", day, [provider] if provider else [], grid)
        return self.render_template(
            "calendar/week.html", grid=grid, location=location, day=day, provider=provider,
            title=_l("%(first)s to %(last)s", first=format_date(days[0], "long"), last=format_date(days[-1], "long")),
            candidates=cal.providers_at(db.session, location), locations=self._locations(), own=own,
            nav=self._nav(".week", day, 7, provider=provider.id if provider else None, location=location.id),
        )

    @expose("/move", methods=["POST"])
    @has_access
    def move(self):
        """Move an appointment (drag and drop, or a plain form); refusals change nothing."""
        data = request.get_json(silent=True) or request.form
        wants_json = request.is_json
        key = _int(data.get("id"))
        appointment = db.session.get(Appointment, key) if key is not None else None
        if appointment is None:
            return self._refuse([_l("Record not found.")], 404, wants_json, None)
        provider = None
        if data.get("provider") not in (None, ""):
            provider = db.session.get(Provider, _int(data.get("provider")) or 0)
            if provider is None:
                return self._refuse([_l("Unknown value.")], 400, wants_json, appointment)
        try:
            start_local = datetime.strptime(str(data.get("start", "")), "%Y-%m-%dT%H:%M")
        except ValueError:
            return self._refuse([_l("Give the new start as a date and time.")], 400, wants_json, appointment)
        try:
            scheduling.reschedule(db.session, appointment, expected_version=_int(data.get("version")),
                                  start_local=start_local, provider=provider, actor=g.user)
        except scheduling.AppointmentConflictError as exc:
            return self._refuse(exc.messages or [exc.message], 409, wants_json, appointment)
        except ValidationFailed as exc:
            return self._refuse([m for _, m in exc.problems], 400, wants_json, appointment)
        except StaleRecordError as exc:
            return self._refuse([exc.message], 409, wants_json, appointment)
        except DomainError as exc:
            return self._refuse([exc.message], exc.status_code, wants_json, appointment)
        message = _l("The appointment was moved to %(time)s.", time=format_datetime(
            appointment.start_local, "short", locale=str(get_locale())))
        warnings = [str(w) for w in getattr(appointment, "authorization_warnings", None) or []]
        for warning in warnings:  # prior authorization missing: the move stands (shown after the page reloads)
            flash(warning, "warning")
        if wants_json:
            return jsonify(ok=True, message=str(message), version=appointment.version, warnings=warnings)
        flash(str(message), "success")
        return redirect(self._back(appointment))

    # ------------------------------------------------------------------ helpers

    def _refuse(self, messages, status, wants_json, appointment):
        db.session.rollback()
        texts = [str(m) for m in messages]
        if wants_json:
            return jsonify(ok=False, messages=texts), status
        for text in texts:
            flash(text, "danger")
        return redirect(self._back(appointment) if appointment else url_for(".index"))

    def _back(self, appointment):
        return url_for(".day", date=appointment.start_local.date().isoformat(), provider=appointment.provider_id,
                       location=appointment.location_id)

    def _empty(self):
        flash(str(_l("There is no active location yet: add one under Administration.")), "warning")
        return self.render_template("calendar/empty.html")

    def _locations(self):
        return list(db.session.scalars(
            db.select(Location).where(Location.active.is_(True)).order_by(Location.name)))

    def _nav(self, endpoint, day, days, **values):
        values = {k: v for k, v in values.items() if v is not None}
        return {
            "prev": url_for(endpoint, date=(day - timedelta(days=days)).isoformat(), **values),
            "next": url_for(endpoint, date=(day + timedelta(days=days)).isoformat(), **values),
            "today": url_for(endpoint, **values),
        }

    def _audit(self, screen, day, providers, grid):
        audit.record(db.engine, action="view", object_type="Schedule", details={
            "screen": screen, "date": day.isoformat(), "providers": [p.id for p in providers],
            "appointments": grid["count"], "patients": grid["patients"]})

    def _grid(self, columns, location, week=False):
        """Everything the template draws: rows, and per column its cells and positioned blocks."""
        step = _step(self.appbuilder.app.config)
        locale = str(get_locale())
        rows = cal.time_rows(columns, step)
        sm = self.appbuilder.sm
        can_move = sm.has_access("can_write", "Appointment")
        out, count, today, patient_ids = [], 0, self._today(location), set()
        away_labels = {k: str(v) for k, v in AWAY_LABELS.items()}
        status_labels = {k: str(v) for k, v in STATUS_LABELS.items()}
        exists = {}  # wall-clock times the clocks skip, once per day and row
        # "Verified today?" on the day grid: one query for every appointment shown
        checks = None if week else eligibility_badges([i.appointment for c in columns for i in c.items])
        for column in columns:
            midnight = datetime.combine(column.day, datetime.min.time())
            book = _url("AppointmentView.book", provider=column.provider.id, location=location.id) if can_move else None
            cells, previous = [], None
            for row in rows:
                start = midnight + row
                end = start + timedelta(minutes=step)
                if start not in exists:
                    exists[start] = cal.exists(start, location.timezone)
                away = column.away_kind(start, end)
                if not exists[start]:
                    kind = "gap"
                elif away:
                    kind = "away"
                elif column.working(start, end):
                    kind = "work"
                else:
                    kind = "off"
                stamp = start.strftime("%Y-%m-%dT%H:%M")
                cells.append({
                    "kind": kind, "start": stamp, "hour": row.seconds % 3600 == 0,
                    "label": away_labels.get(away), "first_away": bool(away) and away != previous,
                    "href": f"{book}{'&' if '?' in book else '?'}start={stamp}" if book and kind == "work" else None,
                })
                previous = away
            items = []
            for item in column.items:
                a = item.appointment
                top = max(0.0, cal.offset(rows, item.start - midnight, step))
                bottom = min(float(len(rows)), cal.offset(rows, item.end - midnight, step))
                items.append({
                    "id": a.id, "version": a.version, "top": top, "height": max(bottom - top, 0.6),
                    "lane": item.lane, "lanes": item.lanes, "status": a.status,
                    "status_label": status_labels.get(a.status, a.status),
                    "active": a.is_active, "movable": can_move and a.status in MOVABLE,
                    "patient": a.patient.display_name, "restricted": a.patient.restricted,
                    "type": a.type.name, "colour": a.type.colour, "text_colour": _text_colour(a.type.colour),
                    "time": "%s – %s" % (format_time(item.start.time(), "short", locale=locale),
                                         format_time(item.end.time(), "short", locale=locale)),
                    "elsewhere": a.location.name if a.location_id != location.id else None,
                    "overbook": a.overbook,
                    "elig_shown": checks is not None and a.is_active,
                    "eligibility": checks.get(a.id) if checks is not None else None,
                    "href": _url("AppointmentView.show", pk=a.id),
                })
                count += 1
                patient_ids.add(a.patient_id)
            out.append({
                "provider": column.provider, "day": column.day, "cells": cells, "appts": items,
                "day_label": format_skeleton("MMMEd", column.day, locale=locale),
                "today": column.day == today,
                "day_url": url_for(".day", date=column.day.isoformat(), provider=column.provider.id,
                                   location=location.id),
                "week_url": url_for(".week", date=column.day.isoformat(), provider=column.provider.id,
                                    location=location.id),
            })
        labels = [format_time((datetime.min + r).time(), "short", locale=locale) for r in rows]
        return {"rows": labels, "book_labels": [str(_l("Book at %(time)s", time=t)) for t in labels],
                "hours": [r.seconds % 3600 == 0 for r in rows], "columns": out, "count": count,
                "patients": sorted(patient_ids),
                "step": step, "week": week, "can_move": can_move}


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
