"""Appointment reminders: queued in reminder_outbox, then sent by e-mail with an .ics file.

`flask clinic send-reminders` (app/cli_reminders.py) runs queue_due() then send_pending(),
e.g. from cron every 15 minutes. Rules:
- one reminder per appointment, ever: the outbox's unique (appointment_id, kind) makes a
  second queueing a no-op, and a row is claimed (a lease on due_at) before it is sent, so two
  runs at the same time never both send it;
- only to a patient who consented to e-mail, whose record is live and who has an address;
- in the patient's language (the letter templates under letters/appointment_reminder/,
  with the letters' fallback), the subject carries no patient data, the text never the
  visit reason (the templates are not given it);
- SMTP trouble leaves the row pending for the next run until REMINDER_MAX_ATTEMPTS.
Nothing here logs patient data: only row ids, counts and error types.
"""
import html
import logging
import re
import smtplib
import ssl
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from ..documents import letters
from ..models.scheduling import Appointment, ReminderOutbox
from .ics import build_ics, clinic_host

log = logging.getLogger(__name__)

KIND = "reminder"
TEMPLATE = "appointment_reminder"
REMINDABLE = ("booked", "confirmed")  # later statuses mean the visit has begun
LEASE = timedelta(minutes=15)  # a claimed row is invisible to other runs this long


def _config(name, default=None):
    return current_app.config.get(name, default)


def due_appointments(session, now, lead_hours=None):
    """Appointments starting within the lead window that have no reminder row yet."""
    lead_hours = _config("REMINDER_LEAD_HOURS", 48) if lead_hours is None else lead_hours
    queued = exists().where(ReminderOutbox.appointment_id == Appointment.id, ReminderOutbox.kind == KIND)
    return session.scalars(
        select(Appointment)
        .where(Appointment.status.in_(REMINDABLE), Appointment.start_at > now,
               Appointment.start_at <= now + timedelta(hours=lead_hours), ~queued)
        .order_by(Appointment.start_at)
    ).all()


def _insert_ignoring_duplicates(session, values):
    """INSERT ... ON CONFLICT DO NOTHING: a row another run queued meanwhile is left alone."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = (insert(ReminderOutbox.__table__).values(**values)
                .on_conflict_do_nothing(index_elements=["appointment_id", "kind"])
                .returning(ReminderOutbox.__table__.c.id))
        return len(session.execute(stmt).all())
    try:
        with session.begin_nested():
            session.add(ReminderOutbox(**values))
        return 1
    except IntegrityError:
        return 0


def queue_due(session, *, now, lead_hours=None):
    """Queue a reminder for every active appointment starting within `lead_hours`; return how many."""
    lead_hours = _config("REMINDER_LEAD_HOURS", 48) if lead_hours is None else lead_hours
    candidates = due_appointments(session, now, lead_hours)
    queued = 0
    for appointment in candidates:
        due = max(now, appointment.start_at - timedelta(hours=lead_hours))
        queued += _insert_ignoring_duplicates(session, dict(
            appointment_id=appointment.id, kind=KIND, channel="email", due_at=due, status="pending",
            attempts=0, queued_at=now))
    session.commit()
    return queued


def skip_reason(appointment, now):
    """Why this reminder must not go out (None: it may)."""
    if not appointment.is_active:
        return appointment.status  # cancelled, no_show
    if appointment.start_at <= now or appointment.status not in REMINDABLE:
        return "past"
    patient = appointment.patient
    if patient.status in ("merged", "deceased"):
        return patient.status
    if not patient.consent_email:
        return "no_consent"
    if not (patient.email or "").strip():
        return "no_address"
    return None


def _text(body_html):
    """The plain-text part: the letter's HTML without tags."""
    text = re.sub(r"<br\s*/?>", "\n", body_html)
    text = re.sub(r"</(p|h1|h2|li)>", "\n\n", text)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())).strip() + "\n"


def build_message(appointment, *, now):
    """The reminder e-mail (text, HTML, .ics) in the patient's language; returns (message, language)."""
    patient = appointment.patient
    lang = letters.choose_language(TEMPLATE, patient.preferred_language or "en")
    today = now.astimezone(ZoneInfo(appointment.timezone)).date()
    letter = letters.render(TEMPLATE, patient, letters.appointment_data(appointment, lang, email=True),
                            today=today, with_pdf=False)
    address = patient.email.strip()
    msg = EmailMessage()
    msg["Subject"] = letter.exports.get("subject", letter.title)
    msg["From"] = formataddr((_config("CLINIC_NAME"), _config("MAIL_DEFAULT_SENDER")))
    msg["To"] = address
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("reminder", domain=clinic_host())
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(_text(letter.body_html))
    direction = letters.text_direction(letter.language)
    msg.add_alternative(
        f'<!DOCTYPE html><html lang="{letter.language}" dir="{direction}"><head><meta charset="utf-8">'
        f"<title>{html.escape(letter.title)}</title></head><body>{letter.body_html}</body></html>",
        subtype="html")
    ics = build_ics(appointment, letter.language, summary=letter.exports.get("summary"), attendee=address, now=now)
    msg.add_attachment(ics, maintype="text", subtype="calendar", filename="appointment.ics",
                       params={"method": "REQUEST", "charset": "utf-8"})
    msg["Content-Language"] = letter.language  # after the parts: making them moves Content-* headers down
    return msg, letter.language


class Mailer:
    """One SMTP connection per run, opened on the first message (settings: MAIL_* in config)."""

    def __init__(self):
        self.conn = None

    def send(self, msg):
        if self.conn is None:
            conn = smtplib.SMTP(_config("MAIL_SERVER"), _config("MAIL_PORT"), timeout=_config("MAIL_TIMEOUT", 30))
            if _config("MAIL_USE_TLS"):
                conn.starttls(context=ssl.create_default_context())
            if _config("MAIL_USERNAME"):
                conn.login(_config("MAIL_USERNAME"), _config("MAIL_PASSWORD") or "")
            self.conn = conn
        try:
            self.conn.send_message(msg)
        except Exception:
            self.close()  # start clean for the next message
            raise

    def close(self):
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.conn = None


def error_text(exc):
    """What went wrong, without the server's words (they can echo the recipient's address)."""
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return f"{name}: SMTP {', '.join(map(str, codes))}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{name}: SMTP {exc.smtp_code}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{name}: {exc.strerror}"[:300]
    return name


def _claim(session, row_id, now):
    """Take the row for this run: only one run's UPDATE matches (status pending, due)."""
    result = session.execute(
        update(ReminderOutbox)
        .where(ReminderOutbox.id == row_id, ReminderOutbox.status == "pending", ReminderOutbox.due_at <= now)
        .values(due_at=now + LEASE)
        .execution_options(synchronize_session=False))
    session.commit()
    return result.rowcount == 1


def send_pending(session, *, now, mailer=None, dry_run=False, extra=()):
    """Send every due pending reminder; return counts {sent, failed, retry, skipped: Counter}.

    dry_run: send and change nothing, count what would happen (also for the appointments in
    `extra`, which a real run would queue first).
    """
    counts = {"sent": 0, "failed": 0, "retry": 0, "skipped": Counter()}
    due = session.execute(
        select(ReminderOutbox.id, ReminderOutbox.due_at)
        .where(ReminderOutbox.status == "pending", ReminderOutbox.due_at <= now)
        .order_by(ReminderOutbox.due_at, ReminderOutbox.id)).all()
    if dry_run:
        appointments = [session.get(ReminderOutbox, row_id).appointment for row_id, _ in due] + list(extra)
        for appointment in appointments:
            reason = skip_reason(appointment, now)
            if reason:
                counts["skipped"][reason] += 1
            else:
                counts["sent"] += 1
        return counts
    max_attempts = _config("REMINDER_MAX_ATTEMPTS", 5)
    mailer = mailer or Mailer()
    try:
        for row_id, due_at in due:
            if not _claim(session, row_id, now):
                continue  # another run has it
            row = session.get(ReminderOutbox, row_id)
            row.due_at = due_at
            reason = skip_reason(row.appointment, now)
            if reason:
                row.status, row.skip_reason = "skipped", reason
                counts["skipped"][reason] += 1
                session.commit()
                continue
            row.attempts += 1
            try:
                msg, language = build_message(row.appointment, now=now)
                mailer.send(msg)
            except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
                row.last_error = error_text(exc)
                row.status = "failed" if row.attempts >= max_attempts else "pending"
                counts["failed" if row.status == "failed" else "retry"] += 1
                log.warning("reminder %s not sent (attempt %s): %s", row.id, row.attempts, row.last_error)
            else:
                row.status, row.sent_at, row.recipient, row.language = "sent", now, msg["To"], language
                row.last_error = None
                counts["sent"] += 1
            session.commit()
    finally:
        mailer.close()
    return counts
