"""Denial rate by payer and by reason: denied claims over adjudicated claims in a period, with the CARC
reasons the payers gave (from the posted adjustments) and their texts."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.claims.codes import DENIAL_CARC, carc_text
from app.models.billing import Payer
from app.models.claims import Claim, ClaimStatusChange
from app.models.payments import ClaimPosting, PostingAdjustment
from app.reports import Column, Param, Report, day_bounds, last_months

ADJUDICATED = ("paid", "denied")
NO_REASON = ""
BY = (("payer", _l("Payer")), ("reason", _l("Payer and reason")))


def adjudications(conn, start, end):
    """{claim_id: (payer_id, payer name, denied?)}: each claim's last move to paid or denied in the period."""
    since, before = day_bounds(start, end)
    stmt = (select(ClaimStatusChange.claim_id, ClaimStatusChange.to_status, ClaimStatusChange.changed_at,
                   ClaimStatusChange.id, Claim.payer_id, Payer.name)
            .join(Claim, Claim.id == ClaimStatusChange.claim_id).join(Payer, Payer.id == Claim.payer_id)
            .where(ClaimStatusChange.to_status.in_(ADJUDICATED), ClaimStatusChange.changed_at >= since,
                   ClaimStatusChange.changed_at < before)
            .order_by(ClaimStatusChange.changed_at, ClaimStatusChange.id))
    found = {}
    for r in conn.execute(stmt):
        found[r.claim_id] = (r.payer_id, r.name, r.to_status == "denied")  # the last one wins
    return found


def denial_reasons(conn, claim_ids):
    """{claim_id: sorted CARC codes} from the adjustments posted on those claims (claim and line level)."""
    reasons = {}
    ids = sorted(claim_ids)
    for at in range(0, len(ids), 500):
        stmt = (select(ClaimPosting.claim_id, PostingAdjustment.reason_code)
                .join(ClaimPosting, ClaimPosting.id == PostingAdjustment.claim_posting_id)
                .where(ClaimPosting.claim_id.in_(ids[at:at + 500]), PostingAdjustment.amount != 0))
        for r in conn.execute(stmt):
            reasons.setdefault(r.claim_id, set()).add(r.reason_code)
    # The denial reasons when the payer gave any (CO-45 "charge exceeds the fee schedule" next to a denial is
    # not why it was denied); otherwise every reason it gave.
    return {claim_id: sorted(codes & DENIAL_CARC or codes) for claim_id, codes in reasons.items()}


def query(conn, p):
    start, end = p["period"]
    found = adjudications(conn, start, end)
    payers = {}
    for claim_id, (payer_id, name, denied) in found.items():
        row = payers.setdefault(payer_id, {"payer": name, "payer_id": payer_id, "adjudicated": 0, "denied": 0,
                                           "claims": []})
        row["adjudicated"] += 1
        if denied:
            row["denied"] += 1
            row["claims"].append(claim_id)
    rows = []
    if p["by"] == "reason":
        reasons = denial_reasons(conn, [c for row in payers.values() for c in row["claims"]])
        for payer in payers.values():
            per_reason = {}
            for claim_id in payer["claims"]:
                for code in reasons.get(claim_id) or [NO_REASON]:
                    per_reason[code] = per_reason.get(code, 0) + 1
            for code, denied in per_reason.items():
                rows.append({"payer": payer["payer"], "payer_id": payer["payer_id"], "reason": code,
                             "reason_text": carc_text(code) if code else str(_l("No reason code posted")),
                             "adjudicated": payer["adjudicated"], "denied": denied,
                             "rate": denied / payer["adjudicated"]})
        return sorted(rows, key=lambda r: (r["payer"], r["payer_id"], -r["denied"], r["reason"]))
    for payer in payers.values():
        rows.append({"payer": payer["payer"], "payer_id": payer["payer_id"], "reason": None, "reason_text": None,
                     "adjudicated": payer["adjudicated"], "denied": payer["denied"],
                     "rate": payer["denied"] / payer["adjudicated"]})
    return sorted(rows, key=lambda r: (r["payer"], r["payer_id"]))


REPORT = Report(
    title=_l("Denial rate"),
    description=_l("Denied claims over adjudicated claims (paid or denied) per payer, for claims adjudicated in the "
                   "period (a claim counts once, as its last decision in the period). By reason: the CARC codes "
                   "posted on the denied claims; a claim denied for two reasons counts under each."),
    params=[
        Param("period", "daterange", _l("Adjudicated between"), default=last_months(3), required=True,
              max_days=3700),
        Param("by", "choice", _l("Show"), default="payer", required=True, choices=BY),
    ],
    query=query,
    columns=[
        Column("payer", _l("Payer")),
        Column("reason", _l("Reason (CARC)")),
        Column("reason_text", _l("Reason")),
        Column("adjudicated", _l("Adjudicated claims"), "int"),
        Column("denied", _l("Denied claims"), "int"),
        Column("rate", _l("Denial rate"), "percent"),
    ],
    roles=["Billing", "OfficeManager"],
    patient_data=False,
    order=150,
)
