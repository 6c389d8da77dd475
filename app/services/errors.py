"""Domain errors: each carries translated, user-facing messages."""
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError


class DomainError(Exception):
    """Base class for errors a user can fix; views map them to messages / 4xx."""

    status_code = 422

    def __init__(self, message=None):
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))

    default_message = _l("The request could not be completed.")


class ValidationFailed(DomainError):
    """Several problems found at once, each tied to a field (or None for the form)."""

    default_message = _l("Please correct the highlighted fields.")

    def __init__(self, problems):
        self.problems = list(problems)  # [(field or None, message)]
        super().__init__()

    def for_field(self, field):
        return [msg for f, msg in self.problems if f == field]

    def __str__(self):
        return "; ".join(str(m) for _, m in self.problems)


class StaleRecordError(DomainError):
    status_code = 409
    default_message = _l(
        "Someone else changed this record while you were editing it. "
        "Nothing was saved: reload the page to see their changes, then make yours again."
    )


def commit_or_stale(session):
    """Commit; a versioned UPDATE that matched no row (someone saved first) rolls back and
    becomes StaleRecordError."""
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise StaleRecordError() from None


class NotFoundError(DomainError):
    status_code = 404
    default_message = _l("Record not found.")


class MergeError(DomainError):
    status_code = 409
