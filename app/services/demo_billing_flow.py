"""The demo's billing office at work: claims in every status, batches with their 837P, payer
acknowledgements, payer and patient payments, balances in every aging bucket, prior authorizations.

Runs after seed_billing (which leaves the last two weeks' visits as encounters, most of them ready to
bill) and adds six months of history before them. Everything goes through the services the screens
call, with the dates of the office's days (`now=` / `today=`), so the rules are the screens' rules:

- encounters of the older visits: encounters.encounter_for_appointment, set_diagnoses, add_charge,
  mark_ready (their appointments go in like seed_schedule's: Core rows with their status history);
- claims: claims.build_claim, transition (the scrubber), update_line, correct (a replacement, 7);
- batches: claim_batches.send (a real ClaimBatch with its 837P);
- 999 / 277CA: X12 files from the demo clearinghouse, received and applied by payer_files.receive /
  process (the upload screen's door: read by app/claims/x12_ack.py, applied by acknowledgements.apply);
- payer payments: app.claims.remit.Remittance objects posted by posting.post (the app has no 835
  writer: the readers build the same objects from files);
- patient payments: posting.post_patient_payment (cash, card approval code, check);
- prior authorizations: authorizations.add_authorization.

Deterministic (one random.Random(seed)) and once only: skipped when any claim exists.
"""
import bisect
import random
import time
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import insert, select

from ..claims import Adjustment
from ..claims.remit import ClaimPayment, LinePayment, Remittance
from ..models import Patient
from ..models.base import utcnow
from . import audit
from .errors import DomainError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
DAY = timedelta(days=1)
OLD_FIRST, OLD_LAST = 16, 185  # the older visits: 16 to 185 days ago (seed_schedule covers the last 14 days)
# Aging buckets as app/services/aging.py counts them (days since the date of service).
OLD_BUCKETS = ((OLD_FIRST, 30), (31, 60), (61, 90), (91, 120), (121, OLD_LAST))
# What happens to an older visit: each bucket starts with the first three, so every bucket has an
# insurance balance (a claim the payer accepted and has not paid), a patient balance and a self-pay visit.
OLD_FATES_FIRST = ("slow", "paid_pr_unpaid", "self_pay")
OLD_FATES_CYCLE = ("paid_pr", "paid_full", "denied", "paid_pr", "appealed", "paid_full", "denied", "paid_pr",
                   "self_pay", "slow")
# The last two weeks' ready encounters, newest first: drafts, ready claims, then sent ones.
RECENT_FIRST = ("draft_problem", "draft_problem", "draft", "draft", "ready", "ready", "ready", "ready")
RECENT_CYCLE = ("accepted", "submitted", "paid", "accepted", "rejected", "accepted", "paid", "denied",
                "submitted", "paid")
LEFT_TO_BUILD = 6  # ready encounters left for "Build claims"
OLD_TYPES = (("Office visit", 50), ("Follow-up", 35), ("Annual physical", 15))
# Denials: (CARC, RARC or None); CO: the practice may not bill the patient.
DENIALS = (("50", "N386"), ("197", "N54"), ("16", "M76"), ("96", "N130"), ("27", None), ("11", "M76"),
           ("204", None))
REJECTIONS = (("A7", "21", "IL"), ("A6", "21", "85"), ("A7", "21", "QC"))
APPEAL_NOTES = ("Appeal sent with the visit notes.", "Appeal faxed: medical necessity letter from the provider.",
                "Reconsideration requested by phone; reference in the notes.")
FAST_PAYERS = ("MCRD1", "CWMC1", "BCBS9")  # pay by EFT, two weeks after receipt
PATIENT_METHODS = ("card", "card", "cash", "check")


def money(value):
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _utc(day, hour, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)


class _Clock:
    """Times on the office's days, never after `now`."""

    def __init__(self, now):
        self.now = now
        self.today = now.date()

    def at(self, day, hour, minute=0):
        return self.clamp(_utc(day, hour, minute))

    def clamp(self, when):
        return min(when, self.now - timedelta(minutes=5))

    def ok(self, day, hour=0):
        """True when `day` at `hour` UTC has passed."""
        return _utc(day, hour) <= self.now - timedelta(minutes=5)


def _next_weekday(day):
    while day.weekday() >= 5:
        day += DAY
    return day


def _billing_user(session):
    from flask_appbuilder.security.sqla.models import User

    return session.scalar(select(User).where(User.username == "demo_billing"))


# --------------------------------------------------------------------------- older visits

def _primary_coverages(session):
    """{patient id: [Coverage row tuples of priority 1, active]}."""
    from ..models.billing import Coverage

    out = {}
    for row in session.execute(select(Coverage.patient_id, Coverage.self_pay, Coverage.payer_id,
                                      Coverage.effective_date, Coverage.end_date)
                               .where(Coverage.priority == 1, Coverage.status == "active").order_by(Coverage.id)):
        out.setdefault(row.patient_id, []).append(row)
    return out


def _in_force(rows, day):
    return next((c for c in rows if c.effective_date <= day and (c.end_date is None or c.end_date >= day)), None)


def _old_days(count, today):
    """(service day, fate) for `count` older visits spread over OLD_BUCKETS, weekdays only."""
    per_bucket = [count // len(OLD_BUCKETS) + (1 if i < count % len(OLD_BUCKETS) else 0)
                  for i in range(len(OLD_BUCKETS))]
    plan = []
    for (low, high), n in zip(OLD_BUCKETS, per_bucket):
        fates = list(OLD_FATES_FIRST) + [OLD_FATES_CYCLE[i % len(OLD_FATES_CYCLE)] for i in range(len(plan), len(plan) + n)]
        for k in range(n):
            ago = high - 2 - (high - low - 4) * k // max(n, 1)  # oldest first, two days inside the bucket
            day = today - timedelta(days=ago)
            if day.weekday() >= 5:  # a weekend: the Friday before, still in the bucket
                day -= timedelta(days=day.weekday() - 4)
            plan.append((day, fates[k]))
    return sorted(plan, key=lambda item: item[0])  # oldest first: numbers and ids follow the calendar


def _make_old_visits(session, r, clock, count, actor, progress):
    """Appointments (checked out) and their encounters (ready to bill) for `count` older visits:
    [(encounter, fate)]."""
    from ..models import Appointment, AppointmentStatusChange, AppointmentType, ProviderHours, Location
    from . import encounters as encounter_service
    from .demo_seed import _billable_codes, _encounter_plan, _local_instant, _status_times, _weighted
    from .patients import age_on

    kinds = {t.name: t for t in session.scalars(select(AppointmentType))}
    types = [(kinds[name], w) for name, w in OLD_TYPES if name in kinds]
    hours = session.execute(select(ProviderHours.provider_id, ProviderHours.location_id, ProviderHours.weekday,
                                   ProviderHours.start_time).order_by(ProviderHours.id)).all()
    if not types or not hours:
        return []
    zones = {loc.id: loc.timezone for loc in session.scalars(select(Location))}
    type_values, type_cum = _weighted(types)
    plan = _old_days(count, clock.today)
    codes_on = _billable_codes(session, {day for day, _ in plan})
    coverages = _primary_coverages(session)
    patients = session.execute(select(Patient.id, Patient.birth_date, Patient.created_on)
                               .where(Patient.status == "active").order_by(Patient.id)).all()
    used_patients, used_slots, made = set(), set(), []
    for day, fate in plan:
        codes = codes_on.get(day) or {}
        if not codes:
            progress(2)
            continue
        want_self_pay = fate == "self_pay"
        patient = None
        for _attempt in range(400):  # a random patient registered by then, insured (or self-pay) that day
            p = r.choice(patients)
            if p.id in used_patients or p.birth_date >= day or (p.created_on is not None and p.created_on.date() > day):
                continue
            cov = _in_force(coverages.get(p.id, ()), day)
            if cov is not None and cov.self_pay == want_self_pay and (want_self_pay or cov.payer_id is not None):
                patient = p
                break
        working = [h for h in hours if h.weekday == day.weekday()]
        if patient is None or not working:
            progress(2)
            continue
        kind = type_values[bisect.bisect_right(type_cum, r.random())]
        age = age_on(patient.birth_date, day)
        visit = _encounter_plan(r, kind, age, codes)
        if visit is None:
            progress(2)
            continue
        h = r.choice(working)
        # Hour slots from the block's start (a visit lasts at most an hour): the provider is never double-booked.
        free = [k for k in range(3) if (h.provider_id, day, h.start_time, k) not in used_slots]
        if not free:
            progress(2)
            continue
        slot = r.choice(free)
        used_slots.add((h.provider_id, day, h.start_time, slot))
        used_patients.add(patient.id)
        start_local = datetime.combine(day, h.start_time) + timedelta(minutes=60 * slot)
        tz = zones[h.location_id]
        start_at = _local_instant(day, start_local.time(), tz)
        end_at = start_at + timedelta(minutes=kind.default_duration)
        history = _status_times(r, "checked_out", start_at, end_at, clock.now)
        row = dict(patient_id=patient.id, provider_id=h.provider_id, location_id=h.location_id, room_id=None,
                   type_id=kind.id, start_at=start_at, end_at=end_at, start_local=start_local, timezone=tz,
                   status="checked_out", overbook=False, overbook_reason=None, overbook_by_fk=None,
                   cancel_reason=None, series_id=None, reason=None, telehealth_url=None, version=len(history),
                   created_on=history[0][1], changed_on=history[-1][1], created_by_fk=None, changed_by_fk=None)
        table = Appointment.__table__
        appointment_id = session.execute(insert(table).returning(table.c.id), [row]).scalar_one()
        session.execute(insert(AppointmentStatusChange.__table__), [
            dict(appointment_id=appointment_id, from_status=(history[i - 1][0] if i else None), to_status=status,
                 changed_at=when, changed_by_fk=None) for i, (status, when) in enumerate(history)])
        audit.append(session.connection(), action="create", object_type="Appointment",
                     details={"source": "seed-demo", "count": 1})
        session.commit()
        progress(1)
        appointment = session.get(Appointment, appointment_id)
        encounter = encounter_service.encounter_for_appointment(session, appointment)
        dx, lines = visit
        encounter_service.set_diagnoses(session, encounter, dx, expected_version=encounter.version)
        for code, modifier, pointers in lines:
            encounter_service.add_charge(session, encounter, {"code": code, "modifiers": [modifier] if modifier else [],
                                                              "pointers": pointers, "units": 1},
                                         expected_version=encounter.version)
        encounter_service.mark_ready(session, encounter, expected_version=encounter.version)
        made.append((encounter, fate))
        progress(1)
    return made


# --------------------------------------------------------------------------- payer files

def _x12_text(value):
    """A name as X12 carries it: upper case ASCII, no delimiter characters."""
    from .demo_seed import strip_accents

    text = strip_accents(value or "").upper()
    return "".join(ch for ch in text if ch.isascii() and ch not in "*~:^")[:60].strip() or "DEMO"


def _interchange(functional_id, body, control, when):
    """One X12 interchange from the demo clearinghouse to the practice: ISA/GS around `body` (ST..,
    without SE), counted and closed."""
    from .demo_seed import DEMO_BILLING

    receiver = DEMO_BILLING["isa_sender_id"]  # the practice
    sender = DEMO_BILLING["isa_receiver_id"]  # the clearinghouse
    isa = (f"ISA*00*{'':10}*00*{'':10}*ZZ*{sender:<15}*ZZ*{receiver:<15}*{when:%y%m%d}*{when:%H%M}*^*00501*"
           f"{control:09d}*0*T*:")
    group = control % 1_000_000
    st = body[0].split("*")[2]
    segments = [isa, f"GS*{functional_id}*{sender}*{receiver}*{when:%Y%m%d}*{when:%H%M}*{group}*X*"
                     f"{body[0].split('*')[3]}", *body, f"SE*{len(body) + 1}*{st}", f"GE*1*{group}",
                f"IEA*1*{control:09d}"]
    return "~\n".join(segments) + "~\n"


# --------------------------------------------------------------------------- claims

class _Flow:
    def __init__(self, session, r, clock, actor, progress):
        self.session, self.r, self.clock, self.actor, self.progress = session, r, clock, actor, progress
        self.claims = []  # [(claim, fate, built day)]
        self.control_numbers = {}
        self.references = set()
        self.denials = 0
        self.stats = {"batches": 0, "payer_payments": 0, "patient_payments": 0, "acknowledgements": 0}

    # -- build and scrub
    def build(self, encounter, fate):
        from . import claims as claim_service

        day = min(_next_weekday(encounter.service_date + DAY), self.clock.today)
        built = self.clock.at(day, 14, self.r.randrange(40))
        try:
            claim = claim_service.build_claim(self.session, encounter, actor=self.actor, now=built)
        except DomainError:
            self.session.rollback()
            return None
        if fate == "draft_problem":
            # Typed in wrong on the claim form: the scrubber names it when billing tries to send the claim.
            line = claim.lines[0]
            claim_service.update_line(self.session, claim, line, pointers=[len(claim.diagnoses) + 1],
                                      expected_version=claim.version, actor=self.actor)
        elif fate != "draft":
            try:
                claim_service.transition(self.session, claim, "ready", actor=self.actor,
                                         expected_version=claim.version, today=day,
                                         now=self.clock.clamp(built + timedelta(minutes=3 + self.r.randrange(15))))
            except DomainError:
                self.session.rollback()  # the scrubber found something: it stays a draft for billing to fix
                fate = "draft_problem"
        self.claims.append((claim, fate, day))
        return claim

    # -- send, acknowledge
    def send(self, claims, day):
        from . import claim_batches

        sent = self.clock.at(day, 20, self.r.randrange(50))
        batch = claim_batches.send(self.session, claims, actor=self.actor, now=sent)
        self.stats["batches"] += 1
        # The clearinghouse's 999 an hour later: the file was readable.
        when = min(sent + timedelta(hours=1), self.clock.now)
        self.receive("999", [
            "ST*999*0001*005010X231A1", f"AK1*HC*{batch.group_control_number}*005010X222A1",
            "AK2*837*0001*005010X222A1", "IK5*A", "AK9*A*1*1*1"], when)
        return batch, sent

    def receive(self, kind, body, when):
        """A payer file (999 / 277CA) as the clearinghouse sends it, received and applied by the payer
        files service (the upload screen's door): shown under Billing → Payer files."""
        from . import payer_files

        control = self.r.randint(10**8, 10**9 - 1)
        stamp = when.strftime("%y%m%d*%H%M")
        text = _interchange("FA" if kind == "999" else "HN", body, control, when)
        row = payer_files.receive(self.session, text, file_name=f"{kind}-{stamp.replace('*', '-')}-{control}.x12",
                                  actor=self.actor, now=when)
        payer_files.process(self.session, row, actor=self.actor, expected_version=row.version, now=when)
        self.stats["acknowledgements"] += 1

    def acknowledge(self, batch, items, when):
        """A 277CA for `items` [(claim, accepted, reason or None)] of `batch`."""
        from . import acknowledgements

        if not items:
            return
        from .billing_setup import get_settings

        settings = get_settings(self.session)
        day = when.strftime("%Y%m%d")
        body = ["ST*277*0001*005010X214", f"BHT*0085*08*{self.r.randint(10**6, 10**7 - 1)}*{day}*1200*TH",
                "HL*1**20*1", f"NM1*PR*2*{_x12_text(items[0][0].payer.name)}*****PI*{items[0][0].payer.payer_code}",
                "HL*2*1*21*1", f"NM1*41*2*{_x12_text(settings.billing_name)}*****46*{settings.submitter_id}",
                f"TRN*2*{batch.interchange_control_number}", f"DTP*050*D8*{day}",
                "HL*3*2*19*1", f"NM1*85*2*{_x12_text(settings.billing_name)}*****XX*{settings.group_npi}"]
        for n, (claim, accepted, reason) in enumerate(items, start=4):
            body += [f"HL*{n}*3*PT", f"TRN*2*{claim.claim_number}"]
            if accepted:
                control = self.control_numbers.setdefault(
                    claim.id, f"{claim.payer.payer_code[:2]}{self.r.randint(10**11, 10**12 - 1)}")
                body += [f"STC*A2:20:PR*{day}*WQ*{money(claim.total_charge)}", f"REF*1K*{control}"]
            else:
                body += [f"STC*{':'.join(reason)}*{day}*U*{money(claim.total_charge)}"]
            body.append(f"DTP*472*D8*{claim.service_date:%Y%m%d}")
        self.receive("277CA", body, when)

    # -- payer payments
    def payment_for(self, claim, fate):
        """ClaimPayment for a claim: paid with CO-45 and the patient's part, or denied."""
        lines, r = [], self.r
        if fate in ("denied", "appealed"):
            carc, rarc = DENIALS[self.denials % len(DENIALS)]
            self.denials += 1
            for line in claim.lines:
                lines.append(LinePayment(code=line.code, modifiers=line.modifiers, charge=money(line.charge),
                                         paid=ZERO, units=Decimal(line.units), service_date=line.service_date,
                                         line_number=line.line_number, allowed=ZERO,
                                         adjustments=[Adjustment("CO", carc, money(line.charge))],
                                         remarks=[rarc] if rarc else []))
            return ClaimPayment(claim_number=claim.claim_number, status_code="4", charge=money(claim.total_charge),
                                paid=ZERO, patient_responsibility=ZERO,
                                payer_claim_control_number=self.control_numbers.get(claim.id), lines=lines)
        copay = claim.coverage.copay
        share = Decimal(r.choice(("0.62", "0.68", "0.72", "0.78", "0.85")))
        patient_part = ZERO
        if fate != "paid_full":
            patient_part = money(copay) if copay else ZERO
        for index, line in enumerate(claim.lines):
            charge = money(line.charge)
            allowed = money(charge * share)
            adjustments = [Adjustment("CO", "45", charge - allowed)] if charge != allowed else []
            pr = ZERO
            if index == 0 and fate != "paid_full":
                if patient_part:
                    pr = min(patient_part, allowed)
                    adjustments.append(Adjustment("PR", "3", pr))
                else:  # no copay: coinsurance, or the deductible early in the year
                    pr = money(allowed * Decimal("0.20"))
                    adjustments.append(Adjustment("PR", "2" if claim.service_date.month > 3 else "1", pr))
            lines.append(LinePayment(code=line.code, modifiers=line.modifiers, charge=charge, paid=allowed - pr,
                                     units=Decimal(line.units), service_date=line.service_date,
                                     line_number=line.line_number, allowed=allowed, adjustments=adjustments))
        paid = sum((ln.paid for ln in lines), ZERO)
        pr_total = sum((a.amount for ln in lines for a in ln.adjustments if a.group == "PR"), ZERO)
        return ClaimPayment(claim_number=claim.claim_number, status_code="1", charge=money(claim.total_charge),
                            paid=paid, patient_responsibility=pr_total,
                            payer_claim_control_number=self.control_numbers.get(claim.id), lines=lines)

    def remit(self, payer, items, day):
        """One payer payment (EFT or check) for [(claim, fate)], posted on `day`."""
        from . import posting

        payments = [self.payment_for(claim, fate) for claim, fate in items]
        amount = sum((p.paid for p in payments), ZERO)
        eft = payer.payer_code in FAST_PAYERS
        while True:
            reference = (f"EFT{self.r.randint(10**9, 10**10 - 1)}" if eft else f"{self.r.randint(100000, 999999)}")
            if reference not in self.references:
                break
        self.references.add(reference)
        remittance = Remittance(payer_name=payer.name, payer_identifier=payer.payer_code,
                                method="none" if amount == ZERO else "eft" if eft else "check", reference=reference,
                                paid_date=day, amount=amount, claims=payments)
        posting.post(self.session, remittance, actor=self.actor, now=self.clock.at(day, 15, self.r.randrange(60)))
        self.stats["payer_payments"] += 1


def _recent_encounters(session, clock, limit):
    """The last two weeks' ready encounters of insured patients, oldest first (at most `limit`)."""
    from ..models.billing import Encounter

    coverages = _primary_coverages(session)
    out = []
    for e in session.scalars(select(Encounter).where(Encounter.status == "ready", Encounter.service_date < clock.today,
                                                     Encounter.service_date >= clock.today - timedelta(days=15))
                             .order_by(Encounter.service_date, Encounter.id)):
        cov = _in_force(coverages.get(e.patient_id, ()), e.service_date)
        if cov is not None and not cov.self_pay and cov.payer_id is not None:
            out.append(e)
    keep = max(0, min(limit, len(out) - LEFT_TO_BUILD))
    if keep <= 1:
        return out[:keep]
    # Spread over the two weeks; the newest few are left for "Build claims".
    last = len(out) - 1 - LEFT_TO_BUILD
    return [out[round(i * last / (keep - 1))] for i in range(keep)]


def _recent_fates(count):
    """Fates of `count` recent encounters, oldest first: the newest become drafts and ready claims."""
    fates = [RECENT_CYCLE[i % len(RECENT_CYCLE)] for i in range(max(0, count - len(RECENT_FIRST)))]
    newest = list(RECENT_FIRST[:count])
    return fates + newest[::-1]


# --------------------------------------------------------------------------- the seed

def sizes(patients):
    """(older visits, recent claims) for a demo of `patients` patients."""
    return min(72, 24 + patients // 50), min(120, 40 + patients // 25)


def seed_demo(session, *, seed=42, now=None, progress_bar=None):
    """Run the billing office for six months (see the module's docstring); returns stats, {} when skipped
    (claims exist already, no ready encounter, or no ICD-10-CM code set). `progress_bar(length)` returns
    a context manager with update(n) (click.progressbar)."""
    from sqlalchemy import func

    from ..models.claims import Claim
    from . import icd10

    started = time.perf_counter()
    if session.scalar(select(Claim.id).limit(1)) is not None or not icd10.has_code_set(session):
        return {}
    clock = _Clock(now or utcnow())
    patient_count = session.scalar(select(func.count()).select_from(Patient.__table__))
    old_count, recent_limit = sizes(patient_count)
    recent = _recent_encounters(session, clock, recent_limit)
    if not recent:
        return {}
    r = random.Random(seed * 31 + 835)
    actor = _billing_user(session)
    recent_fates = _recent_fates(len(recent))
    total = 2 * old_count + len(recent) + 20
    with (progress_bar(total) if progress_bar else nullcontext(None)) as bar:
        progress = bar.update if bar is not None else (lambda n: None)
        flow = _Flow(session, r, clock, actor, progress)
        old = _make_old_visits(session, r, clock, old_count, actor, progress)
        stats = _run(session, flow, old, list(zip(recent, recent_fates)))
        stats["old_visits"] = len(old)
        progress(10)  # _run reported the other 10
    counts = {}
    for status, n in session.execute(select(Claim.status, func.count()).group_by(Claim.status)):
        counts[status] = n
    out = {f"flow_{k}": v for k, v in stats.items()}
    out.update(flow_claims=sum(counts.values()), flow_statuses=counts, flow_seconds=time.perf_counter() - started)
    return out


def _run(session, flow, old, recent):
    from . import authorizations, claims as claim_service

    r, clock = flow.r, flow.clock
    # 1. Build the claims (the self-pay visits are billed to the guarantor: no claim).
    for encounter, fate in old:
        if fate != "self_pay":
            flow.build(encounter, fate)
    for encounter, fate in recent:
        flow.build(encounter, fate)
        flow.progress(1)

    # 2. Send: the older claims in a batch per week (on the Friday), the recent ones daily.
    to_send = {}
    for claim, fate, day in flow.claims:
        if fate in ("draft", "draft_problem", "ready"):
            continue
        if (clock.today - day).days > 14:
            send_day = day + timedelta(days=(4 - day.weekday()) % 7)
        else:
            send_day = day
        to_send.setdefault(send_day, []).append((claim, fate))
    sent = {}  # claim id -> (batch, sent at)
    for send_day in sorted(to_send):
        items = to_send[send_day]
        batch, at = flow.send([c for c, _ in items], send_day)
        for claim, fate in items:
            sent[claim.id] = (batch, at)
        # 3. The payer's 277CA the next day: accepted, or rejected with the reason; "submitted" claims wait.
        when = at + timedelta(days=1, hours=r.randrange(1, 6))
        if when > clock.now - timedelta(minutes=5):
            continue
        answers = []
        for claim, fate in items:
            if fate == "submitted":
                continue
            if fate == "rejected":
                answers.append((claim, False, REJECTIONS[len(answers) % len(REJECTIONS)]))
            else:
                answers.append((claim, True, None))
        flow.acknowledge(batch, answers, when)

    # 4. The payers pay (or deny): one payment per payer and day.
    by_payment = {}
    for claim, fate, day in flow.claims:
        if claim.id not in sent or fate not in ("paid", "paid_pr", "paid_pr_unpaid", "paid_full", "denied",
                                                "appealed"):
            continue
        at = sent[claim.id][1]
        lag = 14 if claim.payer.payer_code in FAST_PAYERS else r.choice((18, 21, 25, 28, 32))
        if fate == "paid":  # a recent visit: only the quick payers have answered
            lag = 7
        pay_day = _next_weekday(at.date() + timedelta(days=lag))
        if not clock.ok(pay_day, 16):
            pay_day = clock.today - DAY if clock.ok(clock.today - DAY, 16) else None
        if pay_day is None or pay_day <= at.date() + DAY:
            continue  # not answered yet: stays accepted
        by_payment.setdefault((pay_day, claim.payer_id), []).append((claim, fate))
    paid_on = {}
    for (pay_day, _payer_id), items in sorted(by_payment.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        flow.remit(items[0][0].payer, items, pay_day)
        for claim, fate in items:
            paid_on[claim.id] = pay_day

    # 5. Appeals of some denials, a replacement (7) of a paid claim.
    to_replace = []
    for claim, fate, day in flow.claims:
        if claim.id not in paid_on:
            continue
        if fate == "appealed" and claim.status == "denied":
            when = clock.at(_next_weekday(paid_on[claim.id] + timedelta(days=5)), 16)
            claim_service.transition(session, claim, "appealed", actor=flow.actor, expected_version=claim.version,
                                     note=r.choice(APPEAL_NOTES), now=when)
        elif fate == "paid_full" and claim.status == "paid" and claim.payer_claim_control_number \
                and (clock.today - paid_on[claim.id]).days > 10:
            to_replace.append(claim)
    replaced = False
    if to_replace:  # the latest paid one, sent again as a replacement (frequency 7, with the payer's number)
        claim = to_replace[-1]
        fix_day = _next_weekday(paid_on[claim.id] + timedelta(days=7))
        new = claim_service.correct(session, claim, kind="replace", actor=flow.actor, now=clock.at(fix_day, 13))
        claim_service.transition(session, new, "ready", actor=flow.actor, expected_version=new.version,
                                 today=fix_day, now=clock.at(fix_day, 13, 20))
        flow.send([new], fix_day)
        replaced = True
    flow.progress(5)

    # 6. Patients pay their part: some in full, some in part, some not yet (statements go out).
    methods = iter(PATIENT_METHODS * 1000)
    for claim, fate, day in flow.claims:
        if fate not in ("paid_pr", "paid") or claim.id not in paid_on:
            continue
        _patient_pays(session, flow, claim.patient, claim, paid_on[claim.id], next(methods))
    for encounter, fate in old:
        if fate == "self_pay" and r.random() < 0.5:  # paid part of a self-pay visit at the desk, on account
            _patient_pays(session, flow, encounter.patient, None, encounter.service_date, next(methods),
                          amount=money(Decimal(r.choice((20, 40, 50)))), wait=(0, 0))
    for encounter in _recent_self_pay(session, clock, r, 4):  # the last two weeks' self-pay visits, likewise
        _patient_pays(session, flow, encounter.patient, None, encounter.service_date, next(methods),
                      amount=money(Decimal(r.choice((25, 40, 60)))), wait=(0, 0))
    flow.progress(5)

    # 7. Prior authorizations: one valid with units left, one ending within two weeks, one used up.
    made = _authorizations(session, flow, authorizations)
    stats = dict(flow.stats, authorizations=made, replacements=1 if replaced else 0)
    return stats


def _recent_self_pay(session, clock, r, count):
    """Up to `count` of the last two weeks' ready encounters of self-pay patients."""
    from ..models.billing import Encounter

    coverages = _primary_coverages(session)

    def self_pay(e):
        cov = _in_force(coverages.get(e.patient_id, ()), e.service_date)
        return cov is not None and cov.self_pay

    found = [e for e in session.scalars(select(Encounter).where(
        Encounter.status == "ready", Encounter.service_date < clock.today,
        Encounter.service_date >= clock.today - timedelta(days=14)).order_by(Encounter.id)) if self_pay(e)]
    return r.sample(found, min(count, len(found)))


def _patient_pays(session, flow, patient, claim, after, method, amount=None, wait=(3, 20)):
    """The patient pays `amount` (default: all or half of what the claim leaves them) some days (`wait`)
    after `after`, when that day has come."""
    from . import posting

    r, clock = flow.r, flow.clock
    if amount is None:
        due = posting.claim_balance(session, claim).patient_balance
        if due <= ZERO:
            return
        amount = due if r.random() < 0.6 else money(due / 2)
    day = _next_weekday(after + timedelta(days=r.randint(*wait)))
    if not clock.ok(day, 15):
        return
    reference = {"card": f"AP{r.randint(100000, 999999)}", "check": f"CHK {r.randint(1000, 9999)}"}.get(method)
    posting.post_patient_payment(session, patient, amount=amount, method=method, reference=reference, claim=claim,
                                 actor=flow.actor, now=clock.at(day, 15, r.randrange(60)))
    flow.stats["patient_payments"] += 1


def _authorizations(session, flow, authorizations):
    from ..models.authorizations import PriorAuthorization

    clock, made = flow.clock, 0
    if session.scalar(select(PriorAuthorization.id).limit(1)) is not None:
        return 0
    recent = [c for c, fate, day in flow.claims if (clock.today - c.service_date).days <= 14 and c.lines]
    plans = (  # (number, units, from (days before the service), to (days after today), codes of the visit?)
        ("valid", Decimal(6), 20, 120, True),
        ("expiring", None, 60, 9, False),
        ("used_up", Decimal(1), 10, 45, True),
    )
    seen = set()
    for (label, units, before, after, own_codes), claim in zip(plans, [c for c in recent if c.patient_id not in seen
                                                                       and not seen.add(c.patient_id)]):
        codes = claim.lines[0].code if own_codes else "99213,99214,99215"
        number = f"{claim.payer.payer_code[:3]}{flow.r.randint(1000000, 9999999)}"
        authorizations.add_authorization(
            session, claim.patient, actor=flow.actor, payer=claim.payer_id, coverage=claim.coverage_id,
            number=number, codes=codes, units_authorized=units,
            valid_from=claim.service_date - timedelta(days=before), valid_to=clock.today + timedelta(days=after),
            notes=f"Approved by phone ({label})." if label != "valid" else None)
        made += 1
    return made


# --------------------------------------------------------------------------- the CLI's view

def summary(stats):
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(stats["flow_statuses"].items()))
    return (f"Seeded the billing office: {stats['flow_claims']} claims ({statuses}) from "
            f"{stats['flow_old_visits']} older visits and the last two weeks, {stats['flow_batches']} batches, "
            f"{stats['flow_acknowledgements']} 999/277CA files, {stats['flow_payer_payments']} payer payments, "
            f"{stats['flow_patient_payments']} patient payments, {stats['flow_authorizations']} prior "
            f"authorizations in {stats['flow_seconds']:.1f} s.")


def seed_for_demo(session, *, seed=42, now=None):
    """seed_demo with a progress bar and a one-line summary (flask clinic seed-demo)."""
    import click

    stats = seed_demo(session, seed=seed, now=now,
                      progress_bar=lambda n: click.progressbar(length=n, label="Seeding the billing office"))
    if stats:
        click.echo(summary(stats))
    return stats
