"""The home-page cards of insurance and charges: insurance to verify today, encounters to bill
(or, for a clinician, their own encounters still open). Each hides itself when there is nothing to do."""
import datetime as dt

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..models import Location
from ..models.billing import Encounter
from ..services import claim_batches, eligibility, encounters
from ..services.scheduling import zone
from .flow import provider_of
from .home import Link, register_home_card


def _locations(user):
    """The user's usual location (their provider's default), else every active location."""
    provider = provider_of(user)
    if provider is not None and provider.default_location is not None and provider.default_location.active:
        return [provider.default_location]
    return list(db.session.scalars(select(Location).where(Location.active.is_(True)).order_by(Location.name)))


def to_verify(session, locations):
    """Today's (local) appointments at `locations` whose patient has an insurance in force and no
    eligibility check for today: the eligibility service's own rules, three indexed queries a location."""
    n = 0
    for location in locations:
        today = dt.datetime.now(zone(location.timezone)).date()
        appointments = eligibility.appointments_on(session, location, today)
        insured = eligibility.insured_appointments(session, appointments)
        n += sum(1 for a in eligibility.unchecked(session, [a for a in appointments if a.id in insured]))
    return n


def _insurance_to_verify(user, ctx):
    locations = _locations(user)
    n = to_verify(db.session, locations)
    if not n:
        return None
    if len(locations) == 1:
        text = _l("appointments today at %(location)s with an insurance not yet checked", location=locations[0].name)
        url = url_for("EligibilityView.index", location=locations[0].id)
    else:
        text = _l("appointments today with an insurance not yet checked")
        url = url_for("EligibilityView.index")
    return {"value": n, "attention": True, "text": text, "links": [Link(_l("Check them"), url)]}


def _count_encounters(user, status):
    query = encounters.scoped(select(func.count()).select_from(Encounter), user, current_app.appbuilder.sm)
    return db.session.scalar(query.where(Encounter.status == status))


def _ready_to_bill(user, ctx):
    if not encounters.sees_all(user, current_app.appbuilder.sm):
        return None  # clinicians get their own open encounters instead
    n = claim_batches.count_ready_encounters(db.session)  # waiting for their claim
    if not n:
        return None
    links = [Link(_l("Open the list"), url_for("EncounterView.index", status="ready"))]
    if current_app.appbuilder.sm.has_access("can_write", "Claim"):
        links.insert(0, Link(_l("Build claims"), url_for("ClaimView.build_form")))
    return {"value": n, "text": _l("encounters ready to bill"), "links": links}


def _my_open_encounters(user, ctx):
    if encounters.sees_all(user, current_app.appbuilder.sm):
        return None
    n = _count_encounters(user, "open")  # the row rule: the encounters of the user's own provider
    if not n:
        return None
    return {"value": n, "attention": True, "text": _l("of your encounters are still in progress"),
            "links": [Link(_l("Finish them"), url_for("EncounterView.index", status="open"))]}


register_home_card("insurance_to_verify", _l("Insurance to verify"), _insurance_to_verify,
                   permission=("can_write", "Eligibility"), order=25)
register_home_card("encounters_ready", _l("Encounters ready to bill"), _ready_to_bill,
                   permission=("can_write", "Encounter"), order=35)
register_home_card("my_open_encounters", _l("My open encounters"), _my_open_encounters,
                   permission=("can_write", "Encounter"), order=36)
