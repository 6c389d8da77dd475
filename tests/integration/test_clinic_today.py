"""'Today' for the services (scrubber, authorizations, referrals, inventory, downtime pack) is the
clinic's day, not the server's: the two differ for hours every evening in the Americas."""
from datetime import datetime
from zoneinfo import ZoneInfo

from app.services import dates


def test_today_is_the_day_in_the_clinic_time_zone(app, monkeypatch):
    east, west = "Pacific/Kiritimati", "Pacific/Pago_Pago"  # UTC+14 and UTC-11: never the same day
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_TIMEZONE", east)
    in_east = dates.clinic_today()
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_TIMEZONE", west)
    in_west = dates.clinic_today()
    assert in_east != in_west
    assert in_east == datetime.now(ZoneInfo(east)).date()
    assert in_west == datetime.now(ZoneInfo(west)).date()
