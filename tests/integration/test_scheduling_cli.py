"""The booking service from the shell: same rules, nothing written on a refusal."""
from datetime import datetime

from app.extensions import db
from app.models import Appointment
from tests.scheduling_setup import make_clinic


def _book(runner, c, start, *extra):
    return runner.invoke(args=["clinic", "book", "--patient", c.patient.mrn, "--provider", c.provider.npi or str(c.provider.id),
                               "--location", c.location.name, "--type", c.type.name, "--start", start, *extra])


def test_book_from_the_shell_keeps_the_local_time(runner):
    c = make_clinic()
    result = _book(runner, c, "2030-03-04 10:00", "--room", "Room 1")
    assert result.exit_code == 0, result.output
    appointment = db.session.scalars(db.select(Appointment)).one()
    assert appointment.start_local == datetime(2030, 3, 4, 10, 0)
    assert appointment.room_id == c.room.id
    assert f"Booked appointment {appointment.id}: 2030-03-04 10:00 America/New_York" in result.output


def test_a_clash_or_bad_input_is_refused_and_writes_nothing(runner):
    c = make_clinic()
    assert _book(runner, c, "2030-03-04 10:00").exit_code == 0
    clash = _book(runner, c, "2030-03-04 10:15")
    assert clash.exit_code == 1
    assert "refused, nothing was changed" in clash.output
    assert "The provider is already booked" in clash.output
    sunday = _book(runner, c, "2030-03-03 10:00")
    assert "outside the provider's working hours" in sunday.output
    garbled = _book(runner, c, "next tuesday")
    assert "write it as 'YYYY-MM-DD HH:MM'" in garbled.output
    unknown = runner.invoke(args=["clinic", "book", "--patient", "000", "--provider", c.provider.npi or str(c.provider.id),
                                  "--location", c.location.name, "--type", c.type.name, "--start", "2030-03-04 11:00"])
    assert "patient '000': not found" in unknown.output
    assert db.session.scalar(db.select(db.func.count()).select_from(Appointment)) == 1


def test_weekly_series_and_cancel(runner):
    c = make_clinic()
    result = _book(runner, c, "2030-03-04 09:00", "--every-weeks", "1", "--count", "3")
    assert result.exit_code == 0, result.output
    rows = list(db.session.scalars(db.select(Appointment).order_by(Appointment.start_at)))
    assert [a.start_local.day for a in rows] == [4, 11, 18]
    assert len({a.series_id for a in rows}) == 1
    cancelled = runner.invoke(args=["clinic", "cancel-appointment", str(rows[1].id), "--reason", "Patient asked"])
    assert cancelled.exit_code == 0, cancelled.output
    db.session.expire_all()
    assert db.session.get(Appointment, rows[1].id).status == "cancelled"
    again = runner.invoke(args=["clinic", "cancel-appointment", str(rows[1].id), "--reason", "twice"])
    assert again.exit_code == 1 and "cannot become" in again.output

