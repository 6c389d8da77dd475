"""Acknowledgements of the 837P files we send: the 999 (implementation acknowledgement, 005010X231A1:
was the file readable?) and the 277CA (claim acknowledgement, 005010X214: did the payer take each
claim into adjudication?), read into Acknowledgement objects (app/claims/remit.py).

Both are read with the segment reader of app/claims/x12_835.py (delimiters from the ISA, envelope
counts checked). A malformed file raises ValidationFailed naming the segment; nothing is returned.
Error texts never copy data from the file (IK404 holds a copy of the bad element: patient data).
"""
from flask_babel import lazy_gettext as _l

from . import codes_277
from .remit import Acknowledgement, ClaimAcknowledgement
from .x12_835 import fail, split_interchange, transaction_sets

ACCEPTED_999 = ("A", "E")  # accepted; accepted with errors noted


def _control(value):
    """Our interchange control number from what the payer echoes: "42" of "42-1" (BHT03 of the 837P)."""
    value = (value or "").strip()
    return (value.split("-")[0].lstrip("0") or value) if value else None


# --------------------------------------------------------------------------- 999

def _ik3_reason(seg):
    return str(_l("Segment %(segment)s at position %(position)s%(loop)s: %(error)s",
                  segment=seg.get(1) or "?", position=seg.get(2) or "?",
                  loop=str(_l(" (loop %(loop)s)", loop=seg.get(3))) if seg.get(3) else "",
                  error=codes_277.SEGMENT_ERRORS.get(seg.get(4), seg.get(4) or "?")))


def _ik4_reason(seg, component):
    position = seg.components(1, component)[0]
    return str(_l("Element %(position)s (data element %(element)s): %(error)s", position=position or "?",
                  element=seg.get(2) or "?", error=codes_277.ELEMENT_ERRORS.get(seg.get(3), seg.get(3) or "?")))


def read_999(text):
    """The 999 as an Acknowledgement: one ClaimAcknowledgement (claim_number None) per AK2 set."""
    kind = "999"
    interchange = split_interchange(text, kind)
    sets = transaction_sets(interchange, kind, "999")
    if len(sets) != 1:
        fail(kind, sets[1][1][0], _l("a 999 file answers one functional group: it has one transaction set."))
    gs, segments = sets[0]
    if gs.get(1) != "FA":
        fail(kind, gs, _l("GS01 must be FA (functional acknowledgement)."))
    ak1 = segments[1] if len(segments) > 1 else None
    if ak1 is None or ak1.id != "AK1" or not ak1.get(2):
        fail(kind, ak1 or segments[0], _l("AK1 with the group control number must follow ST."))
    if ak1.get(1) != "HC":
        fail(kind, ak1, _l("this 999 does not acknowledge a health care claim (AK101 is not HC)."))
    ack = Acknowledgement(kind=kind, interchange_control_number=None, group_control_number=_control(ak1.get(2)),
                          accepted=False)
    current, ak9 = None, None
    for seg in segments[2:-1]:
        if seg.id == "AK2":
            current = ClaimAcknowledgement(claim_number=None, accepted=False)
            ack.claims.append(current)
        elif seg.id == "IK3" and current is not None:
            current.reasons.append(_ik3_reason(seg))
        elif seg.id == "IK4" and current is not None:
            current.reasons.append(_ik4_reason(seg, interchange.component))
        elif seg.id == "IK5":
            if current is None:
                fail(kind, seg, _l("IK5 without its AK2."))
            if seg.get(1) not in ("A", "E", "M", "R", "W", "X"):
                fail(kind, seg, _l("IK501 is not an acknowledgement code."))
            current.accepted = seg.get(1) in ACCEPTED_999
            current.reasons += [codes_277.SET_ERRORS.get(seg.get(n), seg.get(n)) for n in range(2, 7) if seg.get(n)]
            current = None
        elif seg.id == "AK9":
            ak9 = seg
    if ak9 is None:
        fail(kind, segments[-1], _l("the AK9 segment (the group's verdict) is missing."))
    if ak9.get(1) not in ("A", "E", "P", "R", "M", "W", "X"):
        fail(kind, ak9, _l("AK901 is not an acknowledgement code."))
    ack.accepted = ak9.get(1) in ACCEPTED_999
    ack.partial = ak9.get(1) == "P"
    if not ack.accepted and not ack.partial:
        group_reasons = [codes_277.SET_ERRORS.get(ak9.get(n), ak9.get(n)) for n in range(5, 10) if ak9.get(n)]
        for claim in ack.claims:
            claim.reasons += [r for r in group_reasons if r not in claim.reasons]
        if not ack.claims:
            ack.claims.append(ClaimAcknowledgement(claim_number=None, accepted=False, reasons=group_reasons))
    return ack


# --------------------------------------------------------------------------- 277CA

def _stc(seg, component):
    """(categories, readable reasons) of an STC segment: STC01, STC10 and STC11 are composites."""
    categories, reasons = [], []
    for n in (1, 10, 11):
        parts = seg.components(n, component)
        if not parts or not parts[0]:
            continue
        category = parts[0]
        status = parts[1] if len(parts) > 1 else ""
        entity = parts[2] if len(parts) > 2 else ""
        categories.append(category)
        reasons.append(codes_277.stc_reason(category, status, entity))
    return categories, reasons


def _verdict(categories):
    if any(c in codes_277.REJECTED_CATEGORIES for c in categories):
        return False
    if any(c in codes_277.ACCEPTED_CATEGORIES for c in categories):
        return True
    return None


def _close(claim, categories):
    """Decide a claim once its loop 2200D is read: rejected if any of its own STC says so, accepted if one
    accepts it, informational (A0/A1 only) otherwise."""
    if claim is None:
        return
    verdict = _verdict(categories)
    claim.accepted = bool(verdict)
    claim.informational = verdict is None


def read_277ca(text):
    """The 277CA as an Acknowledgement: one ClaimAcknowledgement per claim (loop 2200D, TRN02 = CLM01)."""
    kind = "277CA"
    interchange = split_interchange(text, kind)
    ack = Acknowledgement(kind=kind, interchange_control_number=None, group_control_number=None, accepted=False)
    for gs, segments in transaction_sets(interchange, kind, "277"):
        if gs.get(1) != "HN":
            fail(kind, gs, _l("GS01 must be HN (health care claim status notification)."))
        st = segments[0]
        if st.get(3) and not st.get(3).startswith("005010X214"):
            fail(kind, st, _l("this 277 is not a claim acknowledgement (005010X214)."))
        if len(segments) < 2 or segments[1].id != "BHT" or segments[1].get(2) != "08":
            fail(kind, segments[1] if len(segments) > 1 else st, _l("BHT must follow ST, with BHT02 08."))
        level, claim, in_line, categories = None, None, False, []
        for seg in segments[2:-1]:
            if seg.id == "HL":
                _close(claim, categories)
                level, claim, in_line, categories = seg.get(3), None, False, []
                if level not in ("20", "21", "19", "PT"):
                    fail(kind, seg, _l("HL03 is not a 277CA level (20, 21, 19, PT)."))
                if level == "PT":
                    claim = ClaimAcknowledgement(claim_number=None, accepted=False)
            elif seg.id == "TRN" and level == "21" and seg.get(1) == "2":
                control = _control(seg.get(2))
                ack.interchange_control_number = ack.interchange_control_number or control
                ack.group_control_number = ack.group_control_number or control
            elif seg.id == "TRN" and level == "PT":
                if claim.claim_number is not None:
                    fail(kind, seg, _l("a claim status (loop 2200D) has two TRN segments."))
                if not seg.get(2):
                    fail(kind, seg, _l("TRN02 (the claim number) is missing."))
                claim.claim_number = seg.get(2)
                ack.claims.append(claim)
            elif seg.id == "STC" and level == "PT":
                if claim.claim_number is None:
                    fail(kind, seg, _l("STC before the claim's TRN."))
                found, reasons = _stc(seg, interchange.component)
                if not found:
                    fail(kind, seg, _l("STC01 (the claim status) is missing."))
                if in_line:  # a service line's status: shown with the claim's, the claim's own decide
                    reasons = [str(_l("Line: %(reason)s", reason=r)) for r in reasons]
                else:
                    categories += found
                claim.reasons += reasons
            elif seg.id == "REF" and level == "PT" and seg.get(1) == "1K" and not in_line:
                claim.payer_claim_control_number = seg.get(2)[:50] or None
            elif seg.id == "SVC" and level == "PT":
                in_line = True
        _close(claim, categories)
    if not ack.claims:
        fail(kind, None, _l("it acknowledges no claim (no loop 2200D)."))
    for claim in ack.claims:
        if not claim.reasons:
            fail(kind, None, _l("claim %(number)s has no status (STC).", number=claim.claim_number[:38]))
    ack.accepted = all(c.accepted for c in ack.claims)
    return ack
