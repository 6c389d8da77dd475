"""Appointment reminders: a real local SMTP server (aiosmtpd) receives what send-reminders sends."""
import logging
import socket
from datetime import datetime, time, timedelta, timezone
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar

from app.extensions import db
from app.models.scheduling import ReminderOutbox
from app.services import ics, reminders, scheduling
from tests.factories import PatientFactory
from tests.scheduling_setup import NY, book, make_clinic, utc

NOW = utc(2027, 3, 14, 15)  # Sunday afternoon, the day daylight-saving time began in New York
VISIT = datetime(2027, 3, 15, 10, 0)  # Monday 10:00 New York = 14:00 UTC
REASON = "Chest pain and shortness of breath"


class Collector:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"

    @property
    def messages(self):
        return [message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mail_config(app):
    keys = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USERNAME", "REMINDER_MAX_ATTEMPTS", "MAIL_TIMEOUT")
    old = {k: app.config[k] for k in keys}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_USE_TLS=False, MAIL_USERNAME=None, MAIL_TIMEOUT=5)
    yield app.config
    app.config.update(old)


@pytest.fixture
def smtp(mail_config):
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    mail_config["MAIL_PORT"] = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def clinic(app):
    c = make_clinic(weekdays=range(7), start=time(7), end=time(20))
    c.patient.consent_email = True
    c.patient.email = "ana.lopez@example.org"
    c.patient.given_name, c.patient.family_name = "Ana", "López"
    c.patient.preferred_language = "es"
    db.session.commit()
    return c


def run(now=NOW):
    queued = reminders.queue_due(db.session, now=now)
    return queued, reminders.send_pending(db.session, now=now)


def rows():
    db.session.expire_all()
    return db.session.query(ReminderOutbox).order_by(ReminderOutbox.id).all()


def parts(msg):
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    [attachment] = list(msg.iter_attachments())
    return text, html, attachment


def test_consenting_patient_gets_one_email_in_their_language_with_a_valid_ics(clinic, smtp):
    appointment = book(clinic, VISIT, reason=REASON, now=NOW)
    assert run() == (1, {"sent": 1, "failed": 0, "retry": 0, "skipped": {}})
    [envelope] = smtp.envelopes
    assert envelope.rcpt_tos == ["ana.lopez@example.org"]
    [msg] = smtp.messages
    assert msg["Subject"] == "Recordatorio de cita – ClinicDesk Family Practice"
    for private in ("Ana", "López", clinic.patient.mrn, "ana.lopez"):
        assert private not in msg["Subject"]
    assert msg["Content-Language"] == "es"
    text, html, attachment = parts(msg)
    for body in (text, html):
        assert "Le recordamos su próxima cita" in body
        assert "lunes, 15 de marzo de 2027 · 10:00" in body
        assert "Main street · 1 Main St" in body
        assert REASON not in body and "Chest" not in body
        assert clinic.patient.mrn not in body  # the e-mail leaves out the record number
    assert 'lang="es"' in html
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST" and attachment.get_content_charset() == "utf-8"
    raw = attachment.get_content()
    raw = raw.encode() if isinstance(raw, str) else raw
    assert b"DTSTART;TZID=America/New_York:20270315T100000" in raw
    cal = Calendar.from_ical(raw)
    assert str(cal["METHOD"]) == "REQUEST" and cal["PRODID"]
    [event] = cal.events
    assert event.start == datetime(2027, 3, 15, 10, 0, tzinfo=ZoneInfo(NY))
    assert event.start.astimezone(timezone.utc) == utc(2027, 3, 15, 14)
    assert event.end == datetime(2027, 3, 15, 10, 30, tzinfo=ZoneInfo(NY))
    assert str(event["UID"]) == f"appointment-{appointment.id}@localhost"
    assert str(event["SUMMARY"]) == "Cita en ClinicDesk Family Practice"
    assert str(event["LOCATION"]) == "Main street, 1 Main St"
    assert REASON.encode() not in raw
    assert [tz.tz_name for tz in cal.timezones] == [NY]
    [row] = rows()
    assert (row.status, row.recipient, row.language, row.attempts, row.sent_at) == (
        "sent", "ana.lopez@example.org", "es", 1, NOW)
    assert row.due_at == NOW  # inside the lead window already: due at once

    # A second run (even a later one) sends nothing more.
    assert run(NOW + timedelta(hours=1)) == (0, {"sent": 0, "failed": 0, "retry": 0, "skipped": {}})
    assert len(smtp.envelopes) == 1 and len(rows()) == 1


@pytest.mark.parametrize("day, local_offset", [
    (datetime(2027, 3, 13, 10), -5), (datetime(2027, 3, 14, 10), -4),  # DST starts 14 March 02:00
    (datetime(2027, 11, 6, 10), -4), (datetime(2027, 11, 7, 10), -5),  # DST ends 7 November 02:00
])
def test_ics_keeps_the_local_wall_clock_across_daylight_saving(clinic, day, local_offset):
    appointment = book(clinic, day, now=day.replace(tzinfo=timezone.utc) - timedelta(days=3))
    raw = ics.build_ics(appointment, "en")
    assert f"DTSTART;TZID=America/New_York:{day:%Y%m%dT%H%M%S}".encode() in raw
    cal = Calendar.from_ical(raw)
    [event] = cal.events
    assert (event.start.hour, event.start.minute) == (10, 0)
    assert event.start.utcoffset() == timedelta(hours=local_offset)
    # The VTIMEZONE in the file (not only our zoneinfo) gives the same instant.
    [vtimezone] = cal.timezones
    own_zone = vtimezone.to_tz()
    assert day.replace(tzinfo=own_zone).astimezone(timezone.utc) == appointment.start_at
    assert appointment.start_at == day.replace(tzinfo=ZoneInfo(NY)).astimezone(timezone.utc)
    assert int(str(event["SEQUENCE"])) == appointment.version


def test_no_consent_no_address_cancelled_and_deceased_are_skipped_without_mail(clinic, smtp):
    no_consent = PatientFactory(consent_email=False, email="x1@example.org")
    no_address = PatientFactory(consent_email=True, email=None)
    deceased = PatientFactory(consent_email=True, email="x3@example.org")
    a1 = book(clinic, VISIT, patient=no_consent, now=NOW)
    a2 = book(clinic, VISIT + timedelta(hours=1), patient=no_address, now=NOW)
    a3 = book(clinic, VISIT + timedelta(hours=2), patient=deceased, now=NOW)
    cancelled = book(clinic, VISIT + timedelta(hours=3), now=NOW)
    assert reminders.queue_due(db.session, now=NOW) == 4
    scheduling.cancel(db.session, cancelled, reason="Patient called")  # after queueing, before sending
    deceased.status = "deceased"
    db.session.commit()
    counts = reminders.send_pending(db.session, now=NOW)
    assert counts["sent"] == 0 and dict(counts["skipped"]) == {
        "no_consent": 1, "no_address": 1, "deceased": 1, "cancelled": 1}
    assert smtp.envelopes == []
    by_appointment = {r.appointment_id: (r.status, r.skip_reason, r.recipient) for r in rows()}
    assert by_appointment == {a1.id: ("skipped", "no_consent", None), a2.id: ("skipped", "no_address", None),
                              a3.id: ("skipped", "deceased", None), cancelled.id: ("skipped", "cancelled", None)}


def test_appointments_outside_the_window_or_cancelled_are_not_queued(clinic, smtp):
    book(clinic, VISIT + timedelta(days=3), now=NOW)  # beyond 48 hours
    gone = book(clinic, VISIT, now=NOW)
    scheduling.cancel(db.session, gone, reason="Patient called")
    assert reminders.queue_due(db.session, now=NOW) == 0
    assert reminders.queue_due(db.session, now=NOW, lead_hours=24 * 5) == 1


def test_telehealth_reminder_carries_the_join_link(clinic, smtp):
    video = scheduling.add_type(db.session, name="Video visit", default_duration=20, telehealth=True)
    link = "https://video.example.org/join/8f3a2c"
    book(clinic, VISIT, type=video, telehealth_url=link, reason=REASON, now=NOW)
    run()
    [msg] = smtp.messages
    text, html, attachment = parts(msg)
    assert link in text and f'href="{link}"' in html and "Consulta por video" in text
    assert "Main street" not in text
    [event] = Calendar.from_ical(attachment.get_content()).events
    assert str(event["LOCATION"]) == link and str(event["URL"]) == link and link in str(event["DESCRIPTION"])


def test_arabic_reminder_is_right_to_left_with_an_arabic_calendar_title(clinic, smtp):
    clinic.patient.preferred_language = "ar"
    db.session.commit()
    book(clinic, VISIT, now=NOW)
    run()
    [msg] = smtp.messages
    text, html, attachment = parts(msg)
    assert msg["Subject"] == "تذكير بالموعد – ClinicDesk Family Practice"
    assert 'dir="rtl"' in html and "نود تذكيرك بموعدك القادم" in text
    [event] = Calendar.from_ical(attachment.get_content()).events
    assert str(event["SUMMARY"]) == "موعد في ClinicDesk Family Practice"


def test_language_falls_back_like_the_letters(clinic, smtp):
    clinic.patient.preferred_language = "hmn"  # no Hmong template: the clinic default, English
    db.session.commit()
    book(clinic, VISIT, now=NOW)
    run()
    [msg] = smtp.messages
    assert msg["Subject"] == "Appointment reminder – ClinicDesk Family Practice"
    assert "Monday, March 15, 2027" in parts(msg)[0]
    assert rows()[0].language == "en"


def test_smtp_down_retries_then_fails_and_logs_no_patient_data(clinic, mail_config, caplog):
    mail_config.update(MAIL_PORT=free_port(), REMINDER_MAX_ATTEMPTS=2)  # nothing listens there
    book(clinic, VISIT, now=NOW)
    with caplog.at_level(logging.DEBUG):
        assert run()[1] == {"sent": 0, "failed": 0, "retry": 1, "skipped": {}}
        [row] = rows()
        assert (row.status, row.attempts, row.sent_at) == ("pending", 1, None)
        assert row.last_error.startswith("ConnectionRefusedError")
        assert run(NOW + timedelta(minutes=15))[1]["failed"] == 1
    [row] = rows()
    assert (row.status, row.attempts) == ("failed", 2)
    assert run(NOW + timedelta(minutes=30))[1] == {"sent": 0, "failed": 0, "retry": 0, "skipped": {}}
    assert rows()[0].attempts == 2
    for private in ("ana.lopez", "López", clinic.patient.mrn):
        assert private not in caplog.text and private not in row.last_error


def test_refused_recipient_error_keeps_no_address(clinic, mail_config):
    class Refusing(Collector):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return f"550 5.1.1 <{address}> unknown user"

    controller = Controller(Refusing(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mail_config["MAIL_PORT"] = controller.port
        book(clinic, VISIT, now=NOW)
        assert run()[1]["retry"] == 1
    finally:
        controller.stop()
    [row] = rows()
    assert row.last_error == "SMTPRecipientsRefused: SMTP 550" and row.status == "pending"


def test_a_reminder_is_queued_and_claimed_once_under_concurrency(clinic, smtp):
    appointment = book(clinic, VISIT, now=NOW)
    values = dict(appointment_id=appointment.id, kind="reminder", channel="email", due_at=NOW, status="pending",
                  attempts=0, queued_at=NOW)
    assert reminders.queue_due(db.session, now=NOW) == 1
    # A second run that decided to queue the same appointment: its insert is a no-op.
    assert reminders._insert_ignoring_duplicates(db.session, values) == 0
    db.session.commit()
    [row] = rows()
    # Two runs race for the row: only the first claim wins, and the loser sends nothing.
    assert reminders._claim(db.session, row.id, NOW) is True
    assert reminders._claim(db.session, row.id, NOW) is False
    assert reminders.send_pending(db.session, now=NOW)["sent"] == 0 and smtp.envelopes == []
    # The lease runs out (the first run died): the next run sends it.
    assert reminders.send_pending(db.session, now=NOW + reminders.LEASE)["sent"] == 1
    assert len(smtp.envelopes) == 1


def test_cli_send_reminders_counts_and_dry_run(clinic, smtp, runner):
    tomorrow = datetime.now(ZoneInfo(NY)).date() + timedelta(days=1)
    book(clinic, datetime.combine(tomorrow, time(12)))
    refused = PatientFactory(consent_email=False, email="no@example.org")
    book(clinic, datetime.combine(tomorrow, time(13)), patient=refused)
    result = runner.invoke(args=["clinic", "send-reminders", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run: would queue 2, send 1, skip 1 (no_consent 1)." in result.output
    assert rows() == [] and smtp.envelopes == []
    result = runner.invoke(args=["clinic", "send-reminders"])
    assert result.exit_code == 0, result.output
    assert "Queued 2, sent 1, skipped 1 (no_consent 1), failed 0, to retry 0." in result.output
    result = runner.invoke(args=["clinic", "send-reminders"])
    assert "Queued 0, sent 0, skipped 0 (-), failed 0, to retry 0." in result.output
    assert len(smtp.envelopes) == 1


def test_office_manager_sees_the_outbox_without_addresses(clinic, smtp, client, login_as, auth):
    appointment = book(clinic, VISIT, now=NOW)
    run()
    [row] = rows()
    login_as("FrontDesk")
    assert client.get("/reminders/list/").status_code == 403
    auth.logout()
    login_as("OfficeManager")
    page = client.get("/reminders/list/").get_data(as_text=True)
    assert "Skip reason" in page and "sent" in page and str(appointment.id) in page
    assert "ana.lopez@example.org" not in page
    show = client.get(f"/reminders/show/{row.id}").get_data(as_text=True)
    assert "Attempts" in show and "ana.lopez@example.org" not in show
    assert client.get(f"/reminders/edit/{row.id}").status_code == 403
