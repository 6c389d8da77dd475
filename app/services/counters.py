"""Named counters for numbers that are never reused (MRNs, receipts, claims, X12 control numbers)."""
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ..models.counter import Counter


def take(session, name, count=1, *, first=1):
    """Reserve `count` numbers of counter `name` in the caller's transaction; return the last.

    The row is locked by the UPDATE until the caller commits, so concurrent callers queue and
    never get the same numbers. A counter that does not exist yet starts at `first`; if two
    callers create it at once, one inserts and the other counts on.
    """
    stmt = update(Counter).where(Counter.name == name).values(value=Counter.value + count).returning(Counter.value)
    last = session.execute(stmt).scalar_one_or_none()
    if last is None:
        try:
            with session.begin_nested():
                session.add(Counter(name=name, value=first + count - 1))
            last = first + count - 1
        except IntegrityError:
            last = session.execute(stmt).scalar_one()
    return last
