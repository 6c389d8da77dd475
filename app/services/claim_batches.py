"""Claims in bulk: built from ready encounters, scrubbed and marked ready, sent as one 837P interchange
(a ClaimBatch), and the work queue's counts and queries.

The rules stay in app/services/claims.py (build_claim, transition and its scrubber): this module only
runs them over a selection and reports per claim. Sending is all or nothing: every refusal of the 837P
writer is checked here first and reported as a translated message, and no claim is marked submitted
unless the batch is stored.
"""
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from ..claims import x12_837p
from ..models.base import utcnow
from ..models.billing import Encounter
from ..models.claims import Claim, ClaimBatch, ClaimBatchClaim, ClaimStatusChange
from . import claims as claim_service
from . import counters
from .billing_setup import get_settings
from .errors import DomainError, StaleRecordError, ValidationFailed, commit_or_stale

CONTROL_COUNTER = "x12_837_control"
MAX_CONTROL = 999999999  # ISA13 has nine digits

# The 837P writer's refusals (app/claims/x12_837p.PROBLEM_TEXTS), translated.
WRITER_PROBLEMS = {
    "claim_number": _l("Claim number %(claim)s must have 1 to 20 characters."),
    "too_many_lines": _l("Claim %(claim)s has more than 50 service lines."),
    "no_lines": _l("Claim %(claim)s has no service lines."),
    "no_diagnosis": _l("Claim %(claim)s has no diagnosis."),
    "too_many_diagnoses": _l("Claim %(claim)s has more than %(max)s diagnoses."),
    "total": _l("Claim %(claim)s: the total %(total)s is not the sum of its lines (%(lines)s)."),
    "control_number": _l("Claim %(claim)s replaces or voids a claim but has no payer claim control number."),
    "line_balance": _l("Claim %(claim)s line %(line)s: what %(payer)s paid and adjusted is not the line charge."),
    "line_payer": _l("Claim %(claim)s line %(line)s: payer %(payer)s is not one of the claim's other payers."),
    "payer_paid": _l("Claim %(claim)s: the line payments of %(payer)s do not add up to what it paid on the claim."),
    "pointers": _l("Claim %(claim)s line %(line)s needs one to four diagnosis pointers."),
    "pointer_range": _l("Claim %(claim)s line %(line)s points to a diagnosis it does not have."),
}
assert set(WRITER_PROBLEMS) == set(x12_837p.PROBLEM_TEXTS)
ENVELOPE_LABELS = {
    "sender_id": _l("Interchange sender id"), "receiver_id": _l("Interchange receiver id"),
    "application_sender": _l("Application sender code (GS02)"),
    "application_receiver": _l("Application receiver code (GS03)"),
    "submitter_name": _l("Submitter name"), "submitter_id": _l("Submitter id"),
    "receiver_name": _l("Receiver name"), "receiver_id_1000b": _l("Receiver id"),
}


@dataclass
class BulkResult:
    """What a bulk action did: the records it changed and, for the others, why not."""
    done: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # [(record, [messages])]


def _messages(exc):
    if isinstance(exc, ValidationFailed):
        return [m for _, m in exc.problems]
    return [exc.message]


# --------------------------------------------------------------------------- build and scrub in bulk

def _unclaimed_ready():
    """Encounters ready to bill that no claim (but a void one) carries yet: a drafted claim is in the
    claims queue already, and building it again would be refused as a duplicate."""
    claimed = select(Claim.id).where(Claim.encounter_id == Encounter.id, Claim.status != "void").exists()
    return select(Encounter).where(Encounter.status == "ready", ~claimed)


def ready_encounters(session, limit=500):
    """Encounters waiting for their claim, oldest first (what "Build claims" offers)."""
    return session.scalars(_unclaimed_ready().order_by(Encounter.service_date, Encounter.id).limit(limit)).all()


def count_ready_encounters(session):
    return session.scalar(select(func.count()).select_from(_unclaimed_ready().subquery()))


def build_claims(session, encounters, *, actor, now=None):
    """services.claims.build_claim for each encounter; each problem reported, the rest built."""
    result = BulkResult()
    for encounter in encounters:
        try:
            result.done.append(claim_service.build_claim(session, encounter, actor=actor, now=now))
        except DomainError as exc:
            session.rollback()
            result.problems.append((encounter, _messages(exc)))
    return result


def mark_ready(session, claims, *, actor, versions=None, today=None):
    """The lifecycle's draft -> ready (scrubbed) for each claim; `versions` {claim id: version seen}
    (a claim changed since it was shown is reported stale)."""
    result = BulkResult()
    versions = versions or {}
    for claim in claims:
        try:
            claim_service.transition(session, claim, "ready", actor=actor,
                                     expected_version=versions.get(claim.id, claim.version), today=today)
            result.done.append(claim)
        except DomainError as exc:
            session.rollback()
            result.problems.append((claim, _messages(exc)))
    return result


# --------------------------------------------------------------------------- send

def _writer_problems(data):
    return [(None, WRITER_PROBLEMS[key] % values) for key, values in x12_837p.claim_issues(data)]


def send(session, claims, *, actor, now=None):
    """One 837P interchange for `claims` (all ready), stored as a ClaimBatch; every claim marked submitted.

    All or nothing: any problem (nothing chosen, a claim not ready, billing settings incomplete, a claim
    the 837P cannot carry) raises ValidationFailed listing them all, and nothing changes.
    """
    claims = list(dict.fromkeys(claims))
    problems = []
    if not claims:
        problems.append((None, _l("Choose at least one claim that is ready to send.")))
    for claim in claims:
        if claim.status != "ready":
            problems.append((None, _l("Claim %(number)s is %(status)s: only claims that are ready to send are sent.",
                                      number=claim.claim_number, status=claim_service.status_label(claim.status))))
    settings = get_settings(session)
    envelope = x12_837p.envelope_from_settings(settings)
    for name in x12_837p.envelope_issues(envelope):
        problems.append(("billing_settings", _l("The billing settings have no %(field)s: complete the clearinghouse "
                                                "part of the billing settings.", field=ENVELOPE_LABELS[name])))
    if envelope.usage_indicator not in ("T", "P"):
        problems.append(("billing_settings", _l("The billing settings' usage must be test or production.")))
    data = []
    if not problems:
        for claim in claims:
            one = claim_service.claim_data(session, claim)
            problems += _writer_problems(one)
            data.append(one)
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    now = now or utcnow()
    control = (counters.take(session, CONTROL_COUNTER) - 1) % MAX_CONTROL + 1
    try:
        content = x12_837p.write_837p(data, envelope=envelope, control_number=control, created_at=now)
    except ValueError as exc:  # checked above; a refusal not foreseen still changes nothing
        session.rollback()
        raise ValidationFailed([(None, _l("The 837P file could not be written: %(reason)s", reason=str(exc)))])
    batch = ClaimBatch(interchange_control_number=control, group_control_number=control, created_at=now,
                       created_by_fk=actor.id if actor is not None else None, claim_count=len(claims),
                       total_charge=sum((Decimal(c.total_charge) for c in claims), Decimal("0.00")), content=content)
    session.add(batch)
    try:
        session.flush()
        for claim in claims:
            session.add(ClaimBatchClaim(batch_id=batch.id, claim_id=claim.id))
            claim_service.transition(session, claim, "submitted", actor=actor, expected_version=claim.version,
                                     note=str(_l("Sent in batch %(number)s", number=f"{control:09d}")), now=now,
                                     commit=False)
    except StaleDataError:
        session.rollback()
        raise StaleRecordError() from None
    except DomainError:
        session.rollback()
        raise
    commit_or_stale(session)
    return batch


# --------------------------------------------------------------------------- batches

def _control(value):
    if value is None:
        return None
    text = str(value).strip()
    return int(text) if text.isdigit() else -1


def find_batch(session, interchange_control_number=None, group_control_number=None):
    """The batch a 999 / 277CA answers, by ISA13 and/or GS06 (text like "000000042" or a number);
    the newest when the counter has wrapped; None if none matches or nothing was given."""
    interchange, group = _control(interchange_control_number), _control(group_control_number)
    if interchange is None and group is None:
        return None
    query = select(ClaimBatch)
    if interchange is not None:
        query = query.where(ClaimBatch.interchange_control_number == interchange)
    if group is not None:
        query = query.where(ClaimBatch.group_control_number == group)
    return session.scalars(query.order_by(ClaimBatch.id.desc()).limit(1)).first()


def recent_batches(session, limit=100):
    return session.scalars(select(ClaimBatch).order_by(ClaimBatch.id.desc()).limit(limit)).all()


def batch_patient_ids(session, batch):
    return sorted(session.scalars(select(Claim.patient_id).join(ClaimBatchClaim, ClaimBatchClaim.claim_id == Claim.id)
                                  .where(ClaimBatchClaim.batch_id == batch.id).distinct()))


def batch_file_name(batch):
    return f"837P-{batch.interchange_control_number:09d}.txt"


# --------------------------------------------------------------------------- queue

def status_counts(session):
    """{status: number of claims}, every status present (0 when none)."""
    counts = dict.fromkeys(claim_service.STATUS_LABELS, 0)
    counts.update(session.execute(select(Claim.status, func.count()).group_by(Claim.status)).all())
    return counts


def denial_reasons(session, claim):
    """Why the payer denied the claim, as readable sentences: the posted remittance's codes
    (app.services.posting.denial_reasons) when payments are posted, else the note of the denial."""
    try:
        from . import posting
    except ImportError:
        posting = None
    reasons = []
    if posting is not None and hasattr(posting, "denial_reasons"):
        reasons = [str(r) for r in posting.denial_reasons(session, claim) or []]
    if not reasons:
        note = session.scalar(select(ClaimStatusChange.note).where(ClaimStatusChange.claim_id == claim.id,
                                                                   ClaimStatusChange.to_status == "denied")
                              .order_by(ClaimStatusChange.id.desc()).limit(1))
        if note:
            reasons = [note]
    return reasons
