"""Dates as staff type and read them: the locale's numeric order with a 4-digit year, or ISO."""
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, parse_date

ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
NUMERIC_DATE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
BIDI_MARKS = re.compile("[\u200e\u200f\u061c]")


def clinic_today():
    """Today in the clinic's time zone (CLINIC_TIMEZONE, BABEL_DEFAULT_TIMEZONE), not the server's: in
    New York a claim scrubbed at 8 pm is still scrubbed "today", though UTC is tomorrow already."""
    from flask import current_app, has_app_context

    zone = current_app.config.get("BABEL_DEFAULT_TIMEZONE", "UTC") if has_app_context() else "UTC"
    return datetime.now(ZoneInfo(zone)).date()


def local_day_bounds(day, tz_name):
    """The UTC instants of local midnight at the start and end of `day` in zone `tz_name`
    ([start, end): 23, 24 or 25 hours apart)."""
    tz = ZoneInfo(tz_name)
    start = datetime.combine(day, time(), tz).astimezone(timezone.utc)
    end = datetime.combine(day + timedelta(days=1), time(), tz).astimezone(timezone.utc)
    return start, end


def input_pattern(locale):
    """The locale's short date pattern with a four-digit year (M/d/yyyy, dd.MM.yyyy ...)."""
    pattern = Locale.parse(str(locale)).date_formats["short"].pattern
    return BIDI_MARKS.sub("", re.sub(r"y+", "yyyy", pattern))


def format_input(value, locale):
    return format_date(value, input_pattern(locale), locale=str(locale)) if value else ""


def parse_input(text, locale, today=None):
    """A date from the locale's numeric format or ISO 8601; None if it is not one."""
    text = BIDI_MARKS.sub("", text or "").strip()
    if ISO_DATE.match(text):
        try:
            return date(*(int(x) for x in text.split("-")))
        except ValueError:
            return None
    if not NUMERIC_DATE.match(text):
        return None
    try:
        value = parse_date(text, locale=str(locale))
    except (ValueError, IndexError):
        return None
    if value.year < 100:  # two-digit year: the latest such year not in the future
        today = today or date.today()
        year = 2000 + value.year
        if year > today.year:
            year -= 100
        try:
            value = value.replace(year=year)
        except ValueError:
            return None
    return value
