"""Races for the concurrency tests: the same work in several threads at the same moment, each thread
with its own application context, database connection and session (tests/integration/test_booking_concurrency.py,
tests/integration/test_inventory_concurrency.py)."""
import threading

from sqlalchemy.orm import Session

from app.extensions import db


def race(app, threads, work, *, expected=()):
    """Run `work(session, i)` in `threads` threads released together by a barrier; return each thread's
    result in thread order: what `work` returned, the exception if it is one of `expected`, or the repr()
    of any other exception (so that the test's assertion shows it)."""
    barrier = threading.Barrier(threads)
    results = [None] * threads

    def attempt(i):
        with app.app_context():
            with Session(db.engine) as session:
                try:
                    barrier.wait(timeout=30)
                    results[i] = work(session, i)
                except expected as exc:
                    results[i] = exc
                except Exception as exc:  # anything else fails the test, with its text
                    results[i] = repr(exc)

    running = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join(timeout=120)
    return results
