"""Acknowledgements of our 837P batches (999, 277CA) applied to the claims: the only writer of
what they say.

- A 999 accepted (AK9*A/E) says the file was readable: no claim changes; it is recorded against
  the batch (the PayerFile row links to it).
- A 999 rejected (AK9*R) moves the batch's submitted claims to rejected, the IK3/IK4 errors as the
  reason. A partial acceptance (AK9*P) is refused: which claims were in the rejected transaction
  sets cannot be told from the 999, so billing staff resolve it with the clearinghouse.
- A 277CA moves each claim it names from submitted to accepted (storing the payer's claim control
  number, REF*1K) or rejected (its STC statuses as the reason); A0/A1 (forwarded / received) change
  nothing, nor does a second acknowledgement repeating the first (the payer's after the
  clearinghouse's). Any other claim that is not submitted, or unknown, refuses the whole file.

Claims move through app.services.claims.transition (which also sends a rejected claim's encounter
back to ready). plan() says what apply() would do and every problem, without writing; apply() is
all or nothing.
"""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..models.base import utcnow
from ..models.claims import Claim, ClaimBatchClaim
from . import claim_batches
from . import claims as claim_service
from .errors import ValidationFailed, commit_or_stale

NOTE_LIMIT = 300


@dataclass
class Change:
    claim: Claim
    to_status: str  # "accepted" or "rejected"
    reasons: list
    payer_claim_control_number: str | None = None

    @property
    def note(self):
        return "; ".join(str(r) for r in self.reasons)[:NOTE_LIMIT] or None


@dataclass
class Plan:
    ack: object
    batch: object | None
    changes: list = field(default_factory=list)  # Change
    unchanged: list = field(default_factory=list)  # (claim number, readable why): received / informational
    problems: list = field(default_factory=list)  # [(field, message)]

    @property
    def ok(self):
        return not self.problems

    @property
    def accepted(self):
        return [c for c in self.changes if c.to_status == "accepted"]

    @property
    def rejected(self):
        return [c for c in self.changes if c.to_status == "rejected"]


def _batch_claims(session, batch):
    return list(session.scalars(select(Claim).join(ClaimBatchClaim, ClaimBatchClaim.claim_id == Claim.id)
                                .where(ClaimBatchClaim.batch_id == batch.id).order_by(Claim.claim_number)))


def _plan_999(session, ack, plan):
    batch = plan.batch
    if batch is None:
        plan.problems.append(("batch", _l("No claim batch we sent has the group control number %(number)s: this 999 "
                                          "answers a file that is not ours.",
                                          number=ack.group_control_number or "?")))
        return
    if ack.partial:
        plan.problems.append(("batch", _l("The 999 accepts only part of batch %(batch)s (AK9*P): the claims of the "
                                          "rejected transaction sets cannot be told apart. Ask the clearinghouse "
                                          "which claims to send again.", batch=str(batch))))
        return
    claims = _batch_claims(session, batch)
    if ack.accepted:
        for claim in claims:
            plan.unchanged.append((claim.claim_number, _l("The file was readable; the payer has not answered for "
                                                          "the claim yet.")))
        return
    reasons = [r for c in ack.claims for r in c.reasons] or [str(_l("The file was rejected."))]
    reasons = [str(_l("999: batch %(batch)s rejected.", batch=str(batch)))] + list(dict.fromkeys(reasons))
    for claim in claims:
        if claim.status == "submitted":
            plan.changes.append(Change(claim, "rejected", reasons))
        else:
            plan.unchanged.append((claim.claim_number, _l("Claim %(number)s is %(status)s, no longer submitted.",
                                                          number=claim.claim_number,
                                                          status=claim_service.status_label(claim.status))))
    if not plan.changes:
        plan.problems.append(("batch", _l("No claim of batch %(batch)s is still submitted: the 999 has nothing to "
                                          "reject.", batch=str(batch))))


def _already(claim, item):
    """A second acknowledgement saying what an earlier one said (the clearinghouse's, then the payer's):
    accepted for a claim the payer has (accepted, paid, denied, appealed), rejected for a rejected one."""
    if item.accepted:
        return claim.status in claim_service.ADJUDICATED_STATUSES + ("appealed",)
    return claim.status == "rejected"


def _plan_277ca(session, ack, plan):
    numbers = [c.claim_number for c in ack.claims]
    found = {c.claim_number: c for c in session.scalars(select(Claim).where(Claim.claim_number.in_(numbers)))}
    seen = set()
    for item in ack.claims:
        number = item.claim_number
        if number in seen:
            plan.problems.append(("claims", _l("Claim %(number)s is acknowledged twice in this file.", number=number)))
            continue
        seen.add(number)
        claim = found.get(number)
        if claim is None:
            plan.problems.append(("claims", _l("Claim %(number)s is unknown: no claim of ours has that number.",
                                               number=number)))
            continue
        if item.informational:
            plan.unchanged.append((number, _l("The payer received the claim; it has not accepted or rejected it "
                                              "yet.")))
            continue
        if claim.status != "submitted" and _already(claim, item):
            plan.unchanged.append((number, _l("Claim %(number)s is already %(status)s: nothing to change.",
                                              number=number, status=claim_service.status_label(claim.status))))
            continue
        if claim.status != "submitted":
            plan.problems.append(("claims", _l("Claim %(number)s is %(status)s: a 277CA can only accept or reject a "
                                               "submitted claim.", number=number,
                                               status=claim_service.status_label(claim.status))))
            continue
        reasons = [str(_l("277CA: %(reason)s", reason=r)) for r in item.reasons]
        if item.accepted:
            plan.changes.append(Change(claim, "accepted", reasons, (item.payer_claim_control_number or None)))
        else:
            plan.changes.append(Change(claim, "rejected", reasons))


def plan(session, ack):
    """What applying `ack` would change, and every problem; writes nothing."""
    if ack.kind == "999":
        batch = claim_batches.find_batch(session, group_control_number=ack.group_control_number)
    else:
        batch = claim_batches.find_batch(session, interchange_control_number=ack.interchange_control_number) \
            if ack.interchange_control_number else None
    result = Plan(ack=ack, batch=batch)
    if ack.kind == "999":
        _plan_999(session, ack, result)
    elif ack.kind == "277CA":
        _plan_277ca(session, ack, result)
    else:
        result.problems.append(("kind", _l("Unknown value.")))
    return result


def apply(session, ack, *, actor, now=None):
    """Apply the acknowledgement, all or nothing: ValidationFailed with the plan's problems (nothing changes).
    Returns the Plan that was carried out."""
    result = plan(session, ack)
    if result.problems:
        session.rollback()
        raise ValidationFailed(result.problems)
    now = now or utcnow()
    try:
        for change in result.changes:
            claim = change.claim
            if change.payer_claim_control_number:
                claim.payer_claim_control_number = change.payer_claim_control_number[:50]
            claim_service.transition(session, claim, change.to_status, actor=actor, note=change.note,
                                     expected_version=claim.version, now=now, commit=False)
            session.flush()
        commit_or_stale(session)
    except Exception:
        session.rollback()
        raise
    return result
