"""Reminder outbox: what was sent, skipped or failed, read-only (no e-mail addresses shown)."""
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from ..models.scheduling import ReminderOutbox

STATUS_LABELS = {"pending": _l("pending"), "sent": _l("sent"), "skipped": _l("skipped"), "failed": _l("failed")}
SKIP_LABELS = {
    "no_consent": _l("no consent to e-mail"),
    "no_address": _l("no e-mail address"),
    "cancelled": _l("appointment cancelled"),
    "no_show": _l("appointment missed"),
    "past": _l("appointment already started"),
    "merged": _l("record merged"),
    "deceased": _l("patient deceased"),
}


def _when(value):
    from flask_babel import format_datetime

    return format_datetime(value, "short") if value else ""


class ReminderOutboxView(ModelView):
    datamodel = SQLAInterface(ReminderOutbox)
    route_base = "/reminders"
    class_permission_name = "ReminderOutbox"
    method_permission_name = {"list": "read", "show": "read"}
    # Only can_read exists: add/edit/delete/download map to permissions nobody holds.
    base_permissions = ["can_read"]
    list_title = _l("Reminders")
    show_title = _l("Reminder")
    list_columns = ["due_at", "status", "skip_reason", "language", "attempts", "sent_at", "appointment_id"]
    show_columns = ["appointment_id", "kind", "channel", "due_at", "queued_at", "status", "skip_reason", "language",
                    "attempts", "last_error", "sent_at"]
    search_columns = ["status", "skip_reason", "kind", "due_at"]
    order_columns = ["due_at", "status", "sent_at"]
    base_order = ("due_at", "desc")
    page_size = 50
    label_columns = {
        "appointment_id": _l("Appointment"),
        "kind": _l("Kind"),
        "channel": _l("Channel"),
        "due_at": _l("Due"),
        "queued_at": _l("Queued"),
        "status": _l("Status"),
        "skip_reason": _l("Skip reason"),
        "language": _l("Language"),
        "attempts": _l("Attempts"),
        "last_error": _l("Last error"),
        "sent_at": _l("Sent at"),
    }
    formatters_columns = {
        "status": lambda code: STATUS_LABELS.get(code, code),
        "skip_reason": lambda code: SKIP_LABELS.get(code, code or ""),
        "due_at": _when,
        "queued_at": _when,
        "sent_at": _when,
    }
