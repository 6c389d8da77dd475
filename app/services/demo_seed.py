"""Multilingual demo data: providers, one user per role, and many realistic patients, fast.

Faker runs once per locale to fill pools (names, streets, user names); patients are then
combined from the pools with one random.Random(seed), so a million patients cost no
million Faker calls and the same seed gives the same patients. Rows go in with
SQLAlchemy Core in batches; MRNs are reserved per batch and the search keys come from
the same functions the registry uses (search_terms_for, name_search_for).
"""
import bisect
import functools
import multiprocessing
import os
import random
import time
import traceback
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from datetime import time as dtime
from queue import Empty

import phonenumbers
from sqlalchemy import func, insert, select, text

from ..models import Patient, PatientSearchTerm, Provider
from ..models.base import utcnow
from . import audit
from .checkdigits import luhn_check_digit
from .patients import ADULT_AGE, age_on, name_search_for, reserve_mrns, search_terms_for
from .text import fold

DEFAULT_SEED = 42
BATCH_SIZE = 5000
POOL_SIZE = 2000  # Faker draws per pool; repeats kept, so common names stay common
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")  # reserved (RFC 2606): never a real inbox

# (language stored on the patient, Faker locale, share of patients, share needing an interpreter)
LOCALES = (
    ("en", "en_US", 0.46, 0.0),
    ("es", "es_MX", 0.24, 0.40),
    ("zh", "zh_CN", 0.06, 0.55),
    ("vi", "vi_VN", 0.06, 0.50),
    ("pt", "pt_BR", 0.05, 0.40),
    ("ru", "ru_RU", 0.05, 0.40),
    ("ar", "ar_AA", 0.04, 0.45),
    ("fr", "fr_FR", 0.04, 0.15),
)


@dataclass(frozen=True)
class Place:
    city: str
    state: str
    zips: tuple
    area_codes: tuple
    weight: float


# A Boston-area practice: most patients live nearby, a few come from further away.
PLACES = (
    Place("Boston", "MA", ("02108", "02111", "02113", "02115", "02116", "02118", "02119", "02120", "02121",
                           "02122", "02124", "02125", "02127", "02128", "02129", "02130", "02131", "02134",
                           "02135", "02136"), (617, 857), 30),
    Place("Cambridge", "MA", ("02138", "02139", "02140", "02141"), (617, 857), 8),
    Place("Somerville", "MA", ("02143", "02144", "02145"), (617, 857), 6),
    Place("Quincy", "MA", ("02169", "02170", "02171"), (617, 857), 7),
    Place("Brookline", "MA", ("02445", "02446"), (617, 857), 4),
    Place("Chelsea", "MA", ("02150",), (617, 857), 4),
    Place("Everett", "MA", ("02149",), (617, 857), 4),
    Place("Malden", "MA", ("02148",), (781, 339), 5),
    Place("Revere", "MA", ("02151",), (781, 339), 4),
    Place("Lynn", "MA", ("01901", "01902", "01904", "01905"), (781, 339), 4),
    Place("Waltham", "MA", ("02451", "02452", "02453"), (781, 339), 3),
    Place("Newton", "MA", ("02458", "02459", "02460", "02465"), (617, 857), 3),
    Place("Framingham", "MA", ("01701", "01702"), (508, 774), 4),
    Place("Brockton", "MA", ("02301", "02302"), (508, 774), 3),
    Place("Lowell", "MA", ("01850", "01851", "01852", "01854"), (978, 351), 4),
    Place("Providence", "RI", ("02903", "02904", "02905", "02906", "02908", "02909"), (401,), 2),
    Place("New York", "NY", ("10002", "10009", "10025", "10031", "10032", "10040"), (212, 646, 917), 2),
    Place("Brooklyn", "NY", ("11201", "11214", "11220", "11224", "11235"), (718, 347, 929), 1.5),
    Place("Miami", "FL", ("33125", "33126", "33130", "33135", "33145"), (305, 786), 1.5),
)
COMMON_STREETS = (
    "Washington St", "Massachusetts Ave", "Dorchester Ave", "Commonwealth Ave", "Beacon St", "Tremont St",
    "Centre St", "Main St", "Broadway", "Hancock St", "Blue Hill Ave", "Harvard St", "Columbia Rd",
    "Cambridge St", "Elm St", "Pleasant St", "Highland Ave", "School St", "Summer St", "Park St", "Maple St",
    "Oak St", "Chestnut St", "Union St", "Franklin St", "Adams St", "Walnut St", "Prospect St", "Water St",
    "Salem St", "Bowdoin St", "Geneva Ave", "Hyde Park Ave", "Medford St", "Broadway Ave", "Salem Tpke",
)
UNIT_FORMATS = ("Apt {n}", "Apt {n}{l}", "Unit {n}", "# {n}", "Fl {n}")
EMERGENCY_RELATIONSHIPS = (("spouse", 30), ("partner", 8), ("parent", 18), ("child", 18), ("sibling", 16),
                           ("friend", 8), ("neighbor", 2))
NOTES = (
    "Prefers morning appointments.",
    "Hard of hearing: speak clearly, face the patient.",
    "Uses a wheelchair: book an accessible room.",
    "Prefers a female provider.",
    "Call the mobile number first.",
)
# Age bands (years, inclusive) and their share of patients.
AGE_BANDS = (((0, 4), 6), ((5, 12), 8), ((13, 17), 6), ((18, 29), 15), ((30, 44), 20), ((45, 64), 27),
             ((65, 79), 13), ((80, 99), 5))

# The demo practice's providers: (given, family, credentials, specialty, sees).
DEMO_PROVIDERS = (
    ("Ana", "Morales", "MD", "Family medicine", "all"),
    ("David", "Chen", "MD", "Internal medicine", "adults"),
    ("Minh", "Nguyễn", "NP", "Family medicine", "all"),
    ("Hélène", "Dubois", "MD", "Pediatrics", "children"),
    ("João", "Pereira", "DO", "Family medicine", "all"),
    ("Olga", "Ivanova", "MD", "Obstetrics and gynecology", "women"),
    ("Omar", "Haddad", "MD", "Internal medicine", "adults"),
    ("Sarah", "Thompson", "PA-C", "Family medicine", "all"),
)
CLINICIAN_PROVIDER = ("Ana", "Morales")  # the demo clinician user signs in as this provider


# --------------------------------------------------------------------------- helpers

def strip_accents(text):
    """Same letters without diacritics, case kept ("José Nguyễn" -> "Jose Nguyen")."""
    text = text.translate(str.maketrans({"đ": "d", "Đ": "D"}))
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def demo_npi(index):
    """A valid, deterministic NPI for demo provider `index` (Luhn over 80840 + 9 digits)."""
    base = str(190_000_000 + index * 7919)
    return base + luhn_check_digit("80840" + base)


def _ascii_handle(text):
    return "".join(ch for ch in fold(text) if "a" <= ch <= "z")


def _weighted(pairs):
    values = [v for v, _ in pairs]
    total = float(sum(w for _, w in pairs))
    acc, cum = 0.0, []
    for _, w in pairs:
        acc += w / total
        cum.append(acc)
    cum[-1] = 1.0
    return values, cum


# --------------------------------------------------------------------------- pools

@dataclass
class LocalePools:
    language: str
    interpreter_rate: float
    female: list
    male: list
    family: list
    family_female: list
    middle: list
    middle_female: list
    romanized_given: list
    romanized_family: list


@functools.lru_cache(maxsize=2)
def build_pools(seed=DEFAULT_SEED, size=POOL_SIZE):
    """Draw name pools per locale (and streets, user names in en_US) with Faker, once.

    Cached: the pools are only read, and a second seeding in the same process reuses them.
    """
    from faker import Faker  # imported here: only seeding needs it

    pools = {}
    extras = {}
    for index, (language, locale, _share, interpreter_rate) in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + index)

        def draw(method, n=size, fake=fake):
            fn = getattr(fake, method, None)
            return [fn() for _ in range(n)] if fn else []

        family = draw("last_name_male") or draw("last_name")
        pools[language] = LocalePools(
            language=language,
            interpreter_rate=interpreter_rate,
            female=draw("first_name_female"),
            male=draw("first_name_male"),
            family=family,
            family_female=draw("last_name_female") if language == "ru" else family,
            middle=draw("middle_name_male") or draw("middle_name"),
            middle_female=draw("middle_name_female") or draw("middle_name"),
            romanized_given=draw("first_romanized_name"),
            romanized_family=draw("last_romanized_name"),
        )
        if locale == "en_US":
            extras["streets"] = list(set(draw("street_name", size // 2)))
            extras["streets"].sort()
            extras["user_names"] = draw("user_name", size // 2)
    return pools, extras


# --------------------------------------------------------------------------- patients

class PatientMaker:
    """Builds patient rows (dicts of Patient columns) from the pools with one seeded Random."""

    def __init__(self, pools, extras, *, seed=DEFAULT_SEED, today=None, providers=(), total=0):
        self.r = random.Random(seed)
        self.pools = pools
        self.today = today or date.today()
        self.streets = list(COMMON_STREETS) * 2 + extras["streets"]
        self.user_names = extras["user_names"]
        self.languages, self._language_cum = _weighted([(lang, share) for lang, _, share, _ in LOCALES])
        self.places, self._place_cum = _weighted([(p, p.weight) for p in PLACES])
        self.bands, self._band_cum = _weighted(AGE_BANDS)
        self.emergency, self._emergency_cum = _weighted(EMERGENCY_RELATIONSHIPS)
        # Providers by who they see: (id, sees) pairs.
        self.providers_for = {
            "child": [pid for pid, sees in providers if sees in ("all", "children")],
            "adult": [pid for pid, sees in providers if sees in ("all", "adults")],
            "women": [pid for pid, sees in providers if sees == "women"],
        }
        self.columns = [c.name for c in Patient.__table__.columns if c.name != "id"]
        # Columns the generator does not fill take the model's scalar default (None if none).
        self.blank = {
            c.name: (c.default.arg if c.default is not None and c.default.is_scalar else None)
            for c in Patient.__table__.columns if c.name != "id"
        }
        self.total = total
        self.duplicates_wanted = min(50, max(3, total // 200)) if total >= 20 else 0
        # Emit a near-duplicate at evenly spread positions, of a recent accented patient.
        step = total // (self.duplicates_wanted + 1) if self.duplicates_wanted else 0
        self.duplicate_at = {step * (k + 1) for k in range(self.duplicates_wanted)} if step else set()
        self._accented = []
        self.duplicates_made = 0

    # -- small random helpers
    def pick(self, values, cum):
        return values[bisect.bisect_right(cum, self.r.random())]

    def chance(self, p):
        return self.r.random() < p

    def phone(self, place):
        """A US number in the place's area codes that phonenumbers accepts, as E.164."""
        r = self.r
        for _ in range(50):
            exchange = r.randint(200, 999)
            if exchange % 100 == 11 or exchange in (555, 950, 958, 959, 976):
                continue  # service codes and the fictional 555 range
            national = r.choice(place.area_codes) * 10_000_000 + exchange * 10_000 + r.randint(0, 9999)
            # Valid for "US" implies is_valid_number (US is NANPA's main region) at half the cost.
            if phonenumbers.is_valid_number_for_region(
                phonenumbers.PhoneNumber(country_code=1, national_number=national), "US"
            ):
                return f"+1{national}"
        raise RuntimeError(f"no valid phone number found for area codes {place.area_codes}")

    def birth_date(self):
        low, high = self.pick(self.bands, self._band_cum)
        days = self.r.randint(low * 365 + 1, high * 365 + 364)
        return self.today - timedelta(days=days)

    # -- names
    def name(self, pools, sex):
        """(family, given, middle) in the conventions of the patient's language."""
        r, lang = self.r, pools.language
        female = sex == "female"
        given = r.choice(pools.female if female else pools.male)
        family = r.choice(pools.family_female if female else pools.family)
        middle = None
        if lang == "en":
            if self.chance(0.35):
                middle = r.choice(pools.female if female else pools.male)
        elif lang in ("es", "pt"):
            if self.chance(0.55):
                second = r.choice(pools.family)
                if second != family:
                    family = f"{family} {second}"
            if self.chance(0.15):
                middle = r.choice(pools.female if female else pools.male)
        elif lang == "ru":
            if self.chance(0.85):
                middle = r.choice(pools.middle_female if female else pools.middle)
        elif lang == "vi":
            if self.chance(0.45):
                middle = "Thị" if female else "Văn"
            else:
                middle = r.choice(pools.middle)
        elif lang == "zh":
            if pools.romanized_given and self.chance(0.3):  # registered in pinyin
                given, family = r.choice(pools.romanized_given), r.choice(pools.romanized_family)
        elif lang == "ar":
            if self.chance(0.4):
                middle = r.choice(pools.male)  # the father's name
        elif lang == "fr":
            if self.chance(0.2):
                middle = r.choice(pools.female if female else pools.male)
        return family, given, middle

    def person_name(self, pools, sex, family=None):
        """A relative's or contact's full name as one would write it down."""
        r = self.r
        given = r.choice(pools.female if sex == "female" else pools.male)
        if family is None:
            family = r.choice(pools.family_female if sex == "female" else pools.family)
        if pools.language == "zh" and not given.isascii():
            return f"{family}{given}"
        if pools.language == "vi":
            return f"{family} {given}"
        return f"{given} {family}"

    def email(self, given, family, birth):
        r = self.r
        g, f = _ascii_handle(given), _ascii_handle(family)
        if g and f:
            local = r.choice((f"{g}.{f}", f"{g}{f}", f"{g[0]}{f}", f"{g}.{f}{birth.year % 100:02d}",
                              f"{g}{r.randint(1, 999)}"))
        else:
            local = f"{r.choice(self.user_names)}{r.randint(1, 99)}"
        return f"{local}@{r.choice(EMAIL_DOMAINS)}"

    # -- one patient
    def make(self, index):
        """Row dict for the index-th patient of this run (without mrn and audit columns)."""
        if index in self.duplicate_at and index >= len(LOCALES) and self._accented:
            return self.near_duplicate()
        r = self.r
        row = dict(self.blank)
        # The first patients cover every language, so even a small demo shows them all.
        lang = LOCALES[index][0] if index < len(LOCALES) else self.pick(self.languages, self._language_cum)
        pools = self.pools[lang]
        x = r.random()
        sex = "female" if x < 0.51 else "male" if x < 0.995 else r.choice(("other", "unknown"))
        name_sex = sex if sex in ("female", "male") else r.choice(("female", "male"))
        family, given, middle = self.name(pools, name_sex)
        birth = self.birth_date()
        age = age_on(birth, self.today)
        minor = age < ADULT_AGE
        place = self.pick(self.places, self._place_cum)

        row.update(
            family_name=family, given_name=given, middle_name=middle, birth_date=birth, sex=sex,
            preferred_language=lang,
            interpreter_needed=lang != "en" and self.chance(pools.interpreter_rate * (0.5 if minor else 1)),
            address_line1=f"{r.randint(1, 399) if self.chance(0.9) else r.randint(400, 2999)} {r.choice(self.streets)}",
            address_line2=(r.choice(UNIT_FORMATS).format(n=r.randint(1, 12), l=r.choice("ABCD"))
                           if self.chance(0.3) else None),
            city=place.city, state=place.state, postal_code=r.choice(place.zips), country="US",
            consent_voicemail=False, consent_sms=False, consent_email=False,
            guarantor_relationship="self", status="active",
        )
        if lang in ("zh", "vi") and self.chance(0.2):
            en = self.pools["en"]
            row["preferred_name"] = r.choice(en.female if name_sex == "female" else en.male)
        elif self.chance(0.03):
            row["preferred_name"] = r.choice(pools.female if name_sex == "female" else pools.male)
        if self.chance(0.1):
            row["gender_identity"] = r.choice(("nonbinary", "declined", "other")) if self.chance(0.2) else name_sex

        if age >= 12 and self.chance(0.9):
            row["phone_mobile"] = self.phone(place)
        if self.chance(0.35 if not minor else 0.6):
            row["phone_home"] = self.phone(place)
        if 18 <= age <= 70 and self.chance(0.15):
            row["phone_work"] = self.phone(place)
        if age >= 16 and self.chance(0.45):
            row["email"] = self.email(given, family, birth)
        row["consent_voicemail"] = bool(row["phone_mobile"] or row["phone_home"]) and self.chance(0.7)
        row["consent_sms"] = bool(row["phone_mobile"]) and self.chance(0.65)
        row["consent_email"] = bool(row["email"]) and self.chance(0.8)
        # Registered on this day (seed_patients stamps created_on the same way); the HIPAA
        # notice is acknowledged at or soon after registration, death comes after it.
        registered = max(birth, self.today - timedelta(days=registration_days_ago(index, self.total)))
        if self.chance(0.92):
            row["hipaa_notice_ack_date"] = min(self.today, registered + timedelta(days=r.choice((0, 0, 0, 1, 7, 14))))

        if minor:
            mother = self.chance(0.6)
            guardian_sex = "female" if mother else "male"
            parent_family = family.split()[0] if lang in ("es", "pt") else family
            if lang == "ru":
                parent_family = r.choice(pools.family_female if mother else pools.family)
            if self.chance(0.06):
                relationship, guarantor_rel = "legal guardian", "guardian"
                guardian = self.person_name(pools, guardian_sex)
            else:
                relationship, guarantor_rel = ("mother" if mother else "father"), "parent"
                guardian = self.person_name(pools, guardian_sex, parent_family)
            guardian_phone = row["phone_home"] or self.phone(place)
            row.update(
                guardian_name=guardian, guardian_relationship=relationship, guardian_phone=guardian_phone,
                guarantor_relationship=guarantor_rel, guarantor_name=guardian, guarantor_phone=guardian_phone,
                guarantor_address=f"{row['address_line1']}, {place.city}, {place.state} {row['postal_code']}",
                guarantor_language=lang,
            )
            if self.chance(0.6):
                other_sex = "male" if mother else "female"
                row.update(
                    emergency_contact_name=self.person_name(pools, other_sex, parent_family if lang != "ru" else None),
                    emergency_contact_relationship="father" if mother else "mother",
                    emergency_contact_phone=self.phone(place),
                )
        else:
            if self.chance(0.75):
                relationship = self.pick(self.emergency, self._emergency_cum)
                contact_sex = r.choice(("female", "male"))
                same_family = relationship in ("spouse", "child", "sibling", "parent") and lang != "ru"
                row.update(
                    emergency_contact_name=self.person_name(pools, contact_sex, family.split()[0] if same_family else None),
                    emergency_contact_relationship=relationship,
                    emergency_contact_phone=self.phone(place),
                )
                if relationship == "spouse" and self.chance(0.15):
                    row.update(
                        guarantor_relationship="spouse", guarantor_name=row["emergency_contact_name"],
                        guarantor_phone=row["emergency_contact_phone"], guarantor_language=lang,
                    )

        since_registration = (self.today - registered).days
        if age >= 50 and since_registration >= 30 and self.chance(0.012 + 0.0008 * (age - 50)):
            row["status"] = "deceased"
            row["deceased_date"] = self.today - timedelta(days=r.randint(0, since_registration - 1))
        elif self.chance(0.04):
            row["status"] = "inactive"  # moved away, left the practice

        choices = self.providers_for["child"] if minor else self.providers_for["adult"]
        if not minor and name_sex == "female" and self.providers_for["women"] and self.chance(0.05):
            choices = self.providers_for["women"]
        if choices and self.chance(0.85):
            row["primary_provider_id"] = r.choice(choices)
        if self.chance(0.04):
            row["notes"] = r.choice(NOTES)

        if lang in ("es", "pt", "fr", "vi") and strip_accents(f"{family} {given}") != f"{family} {given}":
            self._accented.append(row)
            del self._accented[:-50]
        return row

    def near_duplicate(self):
        """The same person registered again without accents: same birth date, new MRN."""
        r = self.r
        original = r.choice(self._accented)
        self._accented.remove(original)
        row = {column: original[column] for column in self.columns}
        row.update(
            family_name=strip_accents(original["family_name"]),
            given_name=strip_accents(original["given_name"]),
            middle_name=strip_accents(original["middle_name"]) if original["middle_name"] else None,
            preferred_name=None, notes=None, status="active", deceased_date=None,
            hipaa_notice_ack_date=None, email=None, consent_email=False,
        )
        # A front-desk typo is likelier than a perfect copy: the phones may differ too.
        if self.chance(0.5):
            place = next(p for p in PLACES if p.city == original["city"])
            row["phone_mobile"] = self.phone(place)
        self.duplicates_made += 1
        return row


# --------------------------------------------------------------------------- writing

def generate_batches(count, *, seed=DEFAULT_SEED, batch_size=BATCH_SIZE, providers=(), today=None, pools=None):
    """Yield (rows, terms, near_duplicates_so_far) per batch; rows lack id, mrn and audit columns.

    `terms` holds each row's search terms, from the registry's own search_terms_for.
    """
    pools, extras = pools or build_pools(seed)
    maker = PatientMaker(pools, extras, seed=seed, today=today, providers=providers, total=count)
    for start in range(0, count, batch_size):
        rows = [maker.make(i) for i in range(start, min(start + batch_size, count))]
        for row in rows:
            row["name_search"] = name_search_for(row)
        yield rows, [sorted(search_terms_for(row)) for row in rows], maker.duplicates_made


def _produce(queue, count, options):
    try:
        for batch in generate_batches(count, **options):
            queue.put(("batch", batch))
        queue.put(("done", None))
    except BaseException:  # the parent must hear about it, or it waits forever
        queue.put(("error", traceback.format_exc()))


def _batches_from_child(count, options):
    """generate_batches() run in a forked process, so generating overlaps inserting."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue(maxsize=3)
    child = ctx.Process(target=_produce, args=(queue, count, options), name="seed-demo-generator", daemon=True)
    child.start()
    try:
        while True:
            try:
                kind, payload = queue.get(timeout=5)
            except Empty:
                if not child.is_alive():
                    raise RuntimeError("the patient generator process died") from None
                continue
            if kind == "done":
                return
            if kind == "error":
                raise RuntimeError(f"the patient generator failed:\n{payload}")
            yield payload
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def can_generate_in_background():
    return (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()


def seed_patients(session, count, *, seed=DEFAULT_SEED, batch_size=BATCH_SIZE, providers=(), today=None,
                  progress=None, pools=None, parallel=None):
    """Insert `count` demo patients with their search terms; commit per batch. Returns stats.

    parallel=None generates in a second process when that pays (large runs, 2+ cores);
    the patients are the same either way.
    """
    started = time.perf_counter()
    if parallel is None:
        parallel = count >= 20_000 and can_generate_in_background()
    options = dict(seed=seed, batch_size=batch_size, providers=tuple(providers), today=today, pools=pools)
    batches = _batches_from_child(count, options) if parallel else generate_batches(count, **options)
    patients, terms = Patient.__table__, PatientSearchTerm.__table__
    # PostgreSQL: take ids from the sequence and send a plain executemany (psycopg
    # re-parses a huge multi-row VALUES statement on every page, which costs more than
    # the insert itself). Elsewhere: multi-row INSERT ... RETURNING id pages.
    sequence = session.scalar(text("SELECT pg_get_serial_sequence('patient', 'id')")) if _is_postgresql(session) else None
    insert_patients = insert(patients)
    if sequence is None:
        insert_patients = insert_patients.returning(patients.c.id, sort_by_parameter_order=True)
    insert_terms = insert(terms)
    done = term_count = duplicates = 0
    try:
        for rows, row_terms, duplicates in batches:
            n = len(rows)
            now = utcnow()
            for i, (row, mrn) in enumerate(zip(rows, reserve_mrns(session, n))):
                # Nobody registers before being born (babies seeded as registered years ago).
                born = datetime.combine(row["birth_date"], dtime(12), tzinfo=timezone.utc)
                registered = min(now, max(registration_time(now, done + i, count), born))
                row.update(mrn=mrn, version=1, created_on=registered, changed_on=registered, created_by_fk=None,
                           changed_by_fk=None)
            if sequence is not None:
                ids = session.scalars(
                    text("SELECT nextval(:seq) FROM generate_series(1, :n) ORDER BY 1"), {"seq": sequence, "n": n}
                ).all()
                for row, pid in zip(rows, ids):
                    row["id"] = pid
                session.execute(insert_patients, rows)
            else:
                ids = session.execute(insert_patients, rows).scalars().all()
            term_rows = [{"patient_id": pid, "term": term} for pid, ts in zip(ids, row_terms) for term in ts]
            session.execute(insert_terms, term_rows)
            # Core inserts bypass the per-row audit capture: one event per batch says where they came from.
            audit.append(session.connection(), action="create", object_type="Patient", details={
                "source": "seed-demo", "seed": seed, "count": n, "first_mrn": rows[0]["mrn"], "last_mrn": rows[-1]["mrn"],
            })
            session.commit()
            done += n
            term_count += len(term_rows)
            if progress:
                progress(n)
    finally:
        batches.close()
    return {
        "patients": done,
        "search_terms": term_count,
        "near_duplicates": duplicates,
        "parallel": parallel,
        "seconds": time.perf_counter() - started,
    }


REGISTRATION_DAYS = 3 * 365  # demo patients registered over the last three years, so reports have a history


def registration_time(now, index, count):
    """When the index-th of `count` demo patients registered: evenly over REGISTRATION_DAYS, in
    MRN order, the last ones today (so the home page's counts for today are not all zero)."""
    return now - timedelta(days=registration_days_ago(index, count))


def registration_days_ago(index, count):
    return (count - 1 - index) * REGISTRATION_DAYS // max(count, 1)


def _is_postgresql(session):
    return session.get_bind().dialect.name == "postgresql"


def ensure_providers(session):
    """Create the demo practice's providers (idempotent by NPI); return [(provider, created)]."""
    out = []
    for index, (given, family, credentials, specialty, _sees) in enumerate(DEMO_PROVIDERS):
        npi = demo_npi(index)
        provider = session.scalar(select(Provider).where(Provider.npi == npi))
        created = provider is None
        if created:
            provider = Provider(given_name=given, family_name=family, credentials=credentials, npi=npi,
                                specialty=specialty, active=True)
            session.add(provider)
        out.append((provider, created))
    session.commit()
    return out


def provider_choices(session):
    """(id, sees) of the active demo providers, for assigning primary providers."""
    sees_by_npi = {demo_npi(i): spec[4] for i, spec in enumerate(DEMO_PROVIDERS)}
    rows = session.execute(select(Provider.id, Provider.npi).where(Provider.active.is_(True))).all()
    return [(pid, sees_by_npi[npi]) for pid, npi in rows if npi in sees_by_npi]


def demo_usernames(sm):
    """Role name -> demo username, one per clinic role plus Admin."""
    from ..security import ROLE_DEFINITIONS

    return {role: f"demo_{role.lower()}" for role in [sm.auth_role_admin] + list(ROLE_DEFINITIONS)}


def ensure_demo_users(session, sm):
    """One demo user per role; return [(role, username, password or None if it existed)].

    The clinician user is linked to the demo provider CLINICIAN_PROVIDER.
    """
    from ..cli import ensure_user

    missing = [role for role in demo_usernames(sm) if sm.find_role(role) is None]
    if missing:
        raise LookupError(f"roles missing: {', '.join(missing)} (run `flask clinic init` first)")
    clinician = session.scalar(
        select(Provider).where(Provider.given_name == CLINICIAN_PROVIDER[0],
                               Provider.family_name == CLINICIAN_PROVIDER[1],
                               Provider.npi == demo_npi(0))
    )
    out = []
    for role, username in demo_usernames(sm).items():
        first, last = ("Demo", role)
        if role == "Clinician" and clinician is not None:
            first, last = clinician.given_name, clinician.family_name
        user, password = ensure_user(sm, username, role, first_name=first, last_name=last,
                                     email=f"{username}@clinic.invalid")
        if role == "Clinician" and clinician is not None and clinician.user_id is None:
            taken = session.scalar(select(Provider.id).where(Provider.user_id == user.id))
            if taken is None:
                clinician.user_id = user.id
        out.append((role, username, password))
    session.commit()
    return out


def patient_count(session):
    return session.scalar(select(func.count()).select_from(Patient.__table__))


def has_patients(session):
    return session.scalar(select(Patient.id).limit(1)) is not None


# --------------------------------------------------------------------------- schedule

# (name, IANA time zone, address): the Boston practice and its West Coast satellite.
DEMO_LOCATIONS = (
    ("Boston – Tremont Street", "America/New_York", "100 Tremont St, Boston, MA 02108"),
    ("Los Angeles – Wilshire", "America/Los_Angeles", "3700 Wilshire Blvd, Los Angeles, CA 90010"),
)
ROOMS_PER_LOCATION = 8  # one per provider working there, so rooms never clash
# (name, minutes, colour, new patient, telehealth, share of bookings)
DEMO_TYPES = (
    ("Follow-up", 15, "#0072B2", False, False, 30),
    ("Office visit", 30, "#009E73", False, False, 30),
    ("New patient visit", 45, "#E69F00", True, False, 10),
    ("Annual physical", 60, "#CC79A7", False, False, 8),
    ("Telehealth visit", 30, "#56B4E9", False, True, 14),
    ("Vaccination", 15, "#D55E00", False, False, 8),
)
# Weekly hours: morning and afternoon blocks (local wall clock), lunch in between.
DEMO_BLOCKS = ((dtime(8, 30), dtime(12, 0)), (dtime(13, 0), dtime(17, 0)))
# Per demo provider (index in DEMO_PROVIDERS): {weekday: location index}; default Mon-Fri in Boston.
DEMO_WEEKS = {
    3: {0: 0, 1: 0, 2: 0, 3: 0},  # Mon-Thu
    4: {d: 1 for d in range(5)},  # works in Los Angeles
    5: {1: 0, 2: 0, 3: 0, 4: 0},  # Tue-Fri
    7: {0: 0, 1: 0, 2: 0, 3: 1, 4: 1},  # Boston Mon-Wed, Los Angeles Thu-Fri
}
SCHEDULE_PAST_DAYS, SCHEDULE_FUTURE_DAYS = 14, 28
SLOT_MINUTES = 15
VISIT_REASONS = ("Blood pressure check", "Cough for two weeks", "Medication review", "Back pain",
                 "Lab results", "Follow-up after hospital stay", "Diabetes check", "Rash", "Knee pain",
                 "Headaches", "Prenatal visit", "Well-child visit")
CANCEL_REASONS = ("The patient called to cancel.", "The patient is travelling.", "Rescheduled at the patient's request.",
                  "The provider is unavailable.")
# The statuses an appointment passed through to reach each status.
STATUS_PATHS = {
    "booked": ("booked",),
    "confirmed": ("booked", "confirmed"),
    "arrived": ("booked", "confirmed", "arrived"),
    "in_room": ("booked", "confirmed", "arrived", "in_room"),
    "completed": ("booked", "confirmed", "arrived", "in_room", "completed"),
    "checked_out": ("booked", "confirmed", "arrived", "in_room", "completed", "checked_out"),
    "cancelled": ("booked", "cancelled"),
    "no_show": ("booked", "confirmed", "no_show"),
}


def day_plan(r, blocks, types, fill):
    """Sequential, non-overlapping appointments for one provider-day: [(start_local, type)].

    `blocks` are (start, end) naive local datetimes, `types` (type, minutes, cumulative
    weights) from _weighted, `fill` the share of time booked. Starts fall on the 15-minute
    grid; free time is left in 15-minute steps. Used by the demo and the schedule benchmark.
    """
    values, cum = types
    step = timedelta(minutes=SLOT_MINUTES)
    out = []
    for start, end in blocks:
        cursor = start
        while cursor + step <= end:
            if r.random() >= fill:
                cursor += step
                continue
            kind = values[bisect.bisect_right(cum, r.random())]
            length = timedelta(minutes=kind[1])
            if cursor + length > end:
                cursor += step
                continue
            out.append((cursor, kind))
            cursor += length
    return out


def ensure_schedule_setup(session):
    """Locations, rooms, appointment types and the demo providers' weekly hours (idempotent)."""
    from ..models import AppointmentType, Location, ProviderHours, Room
    from . import scheduling

    locations = []
    for index, (name, tz, address) in enumerate(DEMO_LOCATIONS):
        location = session.scalar(select(Location).where(Location.name == name))
        if location is None:
            location = scheduling.add_location(session, name=name, timezone=tz, address=address)
            session.add_all(Room(location=location, name=f"Exam {n}") for n in range(1, ROOMS_PER_LOCATION + 1))
            session.commit()
        locations.append(location)
    types = []
    for name, minutes, colour, new_patient, telehealth, _share in DEMO_TYPES:
        kind = session.scalar(select(AppointmentType).where(AppointmentType.name == name))
        if kind is None:
            kind = scheduling.add_type(session, name=name, default_duration=minutes, colour=colour,
                                       new_patient=new_patient, telehealth=telehealth)
        types.append(kind)
    providers = []
    for index, spec in enumerate(DEMO_PROVIDERS):
        provider = session.scalar(select(Provider).where(Provider.npi == demo_npi(index)))
        if provider is None:
            continue
        week = DEMO_WEEKS.get(index, {d: 0 for d in range(5)})
        if provider.colour is None:
            provider.colour = PALETTE_PROVIDERS[index % len(PALETTE_PROVIDERS)]
        if provider.default_location_id is None:
            provider.default_location_id = locations[max(set(week.values()), key=list(week.values()).count)].id
        if session.scalar(select(ProviderHours.id).where(ProviderHours.provider_id == provider.id).limit(1)) is None:
            for weekday, loc in week.items():
                for start, end in DEMO_BLOCKS:
                    session.add(ProviderHours(provider_id=provider.id, location_id=locations[loc].id, weekday=weekday,
                                              start_time=start, end_time=end))
        providers.append((index, provider, week))
    session.commit()
    return locations, types, providers


PALETTE_PROVIDERS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def _local_instant(day, at, tz_name):
    from . import scheduling

    return scheduling.local_to_utc(datetime.combine(day, at), tz_name)


def _demo_exceptions(session, providers, locations, today):
    """A few absences: a past leave day, a week of leave ahead, a blocked afternoon. [(provider id, start, end)]"""
    from ..models.scheduling import ProviderException

    def weekday_from(day, n):
        """The n-th weekday after (n > 0) or before (n < 0) `day`."""
        step = 1 if n > 0 else -1
        while n:
            day += timedelta(days=step)
            if day.weekday() < 5:
                n -= step
        return day

    tz = locations[0].timezone
    plan = []
    by_index = {index: provider for index, provider, _ in providers}
    if 5 in by_index:  # a sick day last week
        day = weekday_from(today, -6)
        plan.append((by_index[5], _local_instant(day, dtime(0), tz), _local_instant(day + timedelta(days=1), dtime(0), tz),
                     "leave", "Sick day"))
    if 1 in by_index:  # holidays in two weeks
        first = weekday_from(today, 8)
        plan.append((by_index[1], _local_instant(first, dtime(0), tz), _local_instant(first + timedelta(days=5), dtime(0), tz),
                     "leave", "Holidays"))
    if 2 in by_index:  # a staff meeting
        day = weekday_from(today, 2)
        plan.append((by_index[2], _local_instant(day, dtime(13), tz), _local_instant(day, dtime(15), tz),
                     "blocked", "Staff meeting"))
    existing = session.scalar(select(ProviderException.id).limit(1))
    if existing is None:
        session.add_all(ProviderException(provider_id=p.id, start_at=s, end_at=e, kind=k, reason=why)
                        for p, s, e, k, why in plan)
        session.commit()
    return [(e.provider_id, e.start_at, e.end_at) for e in session.scalars(select(ProviderException))]


def _demo_status(r, start_at, end_at, now, today_local, day):
    """A realistic status for an appointment at this time, seen from `now`."""
    if end_at <= now:
        if day < today_local:
            x = r.random()
            return "no_show" if x < 0.07 else "cancelled" if x < 0.15 else "completed" if x < 0.17 else "checked_out"
        x = r.random()
        return "no_show" if x < 0.06 else "completed" if x < 0.2 else "checked_out"
    if start_at <= now:
        return "in_room" if r.random() < 0.7 else "arrived"
    if start_at <= now + timedelta(minutes=20):
        return "arrived" if r.random() < 0.4 else "confirmed"
    x = r.random()
    if day == today_local:
        return "cancelled" if x < 0.05 else "booked" if x < 0.3 else "confirmed"
    return "cancelled" if x < 0.1 else "confirmed" if x < 0.35 else "booked"


def _status_times(r, status, start_at, end_at, now):
    """(status, when) along STATUS_PATHS[status]; never in the future, never going back in time."""
    booked = start_at - timedelta(days=r.randint(1, 30), minutes=r.randint(0, 600))
    wanted = {
        "booked": booked,
        "confirmed": start_at - timedelta(days=1, minutes=r.randint(0, 300)),
        "arrived": start_at - timedelta(minutes=r.randint(2, 15)),
        "in_room": start_at + timedelta(minutes=r.randint(0, 8)),
        "completed": end_at - timedelta(minutes=r.randint(0, 3)),
        "checked_out": end_at + timedelta(minutes=r.randint(2, 10)),
        "no_show": start_at + timedelta(minutes=20),
    }
    out, last = [], None
    for step in STATUS_PATHS[status]:
        when = wanted.get(step)
        if when is None:  # cancelled: some time after booking, before the visit
            when = last + (min(start_at, now) - last) * r.random()
        when = min(max(when, last or when), now)
        out.append((step, when))
        last = when
    return out


class _PatientPicker:
    """Random eligible patients that are free at a time (a patient is never double-booked)."""

    def __init__(self, session, r):
        rows = session.execute(select(Patient.id, Patient.primary_provider_id)
                               .where(Patient.status == "active").order_by(Patient.id)).all()
        self.r = r
        self.everyone = [pid for pid, _ in rows]
        self.by_provider = {}
        for pid, provider_id in rows:
            self.by_provider.setdefault(provider_id, []).append(pid)
        self.busy = {}

    def pick(self, provider_id, start_at, end_at):
        own = self.by_provider.get(provider_id) or self.everyone
        for attempt in range(30):
            pool = own if attempt < 10 and self.r.random() < 0.8 else self.everyone
            pid = self.r.choice(pool)
            if all(end_at <= s or e <= start_at for s, e in self.busy.get(pid, ())):
                self.busy.setdefault(pid, []).append((start_at, end_at))
                return pid
        return None


def seed_schedule(session, *, seed=DEFAULT_SEED, now=None, past_days=SCHEDULE_PAST_DAYS,
                  future_days=SCHEDULE_FUTURE_DAYS):
    """Locations, rooms, types, hours, a few absences and appointments from `past_days` ago to
    `future_days` ahead, in statuses that fit their time (today: a live flow board).

    Skipped when appointments exist. Appointments and their status history go in with
    Core batch inserts; the slots are sequential per provider inside the working hours
    and outside absences, patients are never double-booked and each provider keeps one
    room, so the database's overlap guard accepts every row. Returns stats.
    """
    from zoneinfo import ZoneInfo

    from ..models import Appointment, AppointmentStatusChange
    from .scheduling import telehealth_link

    started = time.perf_counter()
    if not has_patients(session) or session.scalar(select(Appointment.id).limit(1)) is not None:
        return None
    r = random.Random(seed)
    now = now or utcnow()
    locations, types, providers = ensure_schedule_setup(session)
    rooms = {loc.id: [room.id for room in loc.rooms] for loc in locations}
    home_tz = ZoneInfo(locations[0].timezone)
    today = now.astimezone(home_tz).date()
    exceptions = _demo_exceptions(session, providers, locations, today)
    weighted = _weighted([((kind, kind.default_duration), share) for kind, (*_, share) in zip(types, DEMO_TYPES)])
    picker = _PatientPicker(session, r)
    room_of = {}  # (provider, location) -> room: one per provider and location, so rooms never clash
    for index, provider, week in providers:
        for loc_index in sorted(set(week.values())):
            loc = locations[loc_index]
            taken = sum(1 for key in room_of if key[1] == loc.id)
            room_of[(provider.id, loc.id)] = rooms[loc.id][taken]  # ROOMS_PER_LOCATION >= providers there

    appointments, histories = [], []
    for offset in range(-past_days, future_days + 1):
        day = today + timedelta(days=offset)
        # Busy near today, emptier further ahead (the future fills as patients call).
        fill = 0.85 if offset <= 2 else max(0.3, 0.85 - 0.02 * offset)
        for index, provider, week in providers:
            if day.weekday() not in week:
                continue
            loc = locations[week[day.weekday()]]
            tz = loc.timezone
            blocks = [(datetime.combine(day, a), datetime.combine(day, b)) for a, b in DEMO_BLOCKS]
            away = [(s, e) for pid, s, e in exceptions if pid == provider.id]
            local_today = now.astimezone(ZoneInfo(tz)).date()
            for start_local, (kind, minutes) in day_plan(r, blocks, weighted, fill):
                start_at = _local_instant(day, start_local.time(), tz)
                if start_at is None:
                    continue  # a DST gap
                end_at = start_at + timedelta(minutes=minutes)
                if any(s < end_at and start_at < e for s, e in away):
                    continue
                patient_id = picker.pick(provider.id, start_at, end_at)
                if patient_id is None:
                    continue
                status = _demo_status(r, start_at, end_at, now, local_today, day)
                history = _status_times(r, status, start_at, end_at, now)
                in_room = status in ("in_room", "completed", "checked_out")
                appointments.append(dict(
                    patient_id=patient_id, provider_id=provider.id, location_id=loc.id,
                    room_id=room_of[(provider.id, loc.id)] if in_room else None, type_id=kind.id,
                    start_at=start_at, end_at=end_at, start_local=start_local, timezone=tz, status=status,
                    overbook=False, overbook_reason=None, overbook_by_fk=None,
                    cancel_reason=r.choice(CANCEL_REASONS) if status == "cancelled" else None, series_id=None,
                    reason=r.choice(VISIT_REASONS) if r.random() < 0.6 else None,
                    telehealth_url=telehealth_link(kind, f"https://video.example.org/demo/{r.getrandbits(64):016x}"),
                    version=len(history), created_on=history[0][1], changed_on=history[-1][1],
                    created_by_fk=None, changed_by_fk=None,
                ))
                histories.append(history)

    table, changes = Appointment.__table__, AppointmentStatusChange.__table__
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    counts = {}
    for first in range(0, len(appointments), BATCH_SIZE):
        rows = appointments[first:first + BATCH_SIZE]
        ids = session.execute(statement, rows).scalars().all()
        session.execute(insert(changes), [
            dict(appointment_id=aid, from_status=(history[i - 1][0] if i else None), to_status=status,
                 changed_at=when, changed_by_fk=None)
            for aid, history in zip(ids, histories[first:first + BATCH_SIZE])
            for i, (status, when) in enumerate(history)
        ])
        # Core inserts bypass the per-row audit capture: one event per batch says where they came from.
        audit.append(session.connection(), action="create", object_type="Appointment",
                     details={"source": "seed-demo", "seed": seed, "count": len(rows)})
        session.commit()
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {"appointments": len(appointments), "statuses": counts, "locations": len(locations),
            "types": len(types), "seconds": time.perf_counter() - started}


# --------------------------------------------------------------------------- billing

# A fictional group practice and clearinghouse (no real entity's ids).
DEMO_BILLING = dict(
    billing_name="Tremont Family Medical Group", tax_id="990001234", taxonomy_code="207Q00000X",
    address_line1="100 Tremont St", address_line2="Suite 400", city="Boston", state="MA", postal_code="021081204",
    phone="+16175550100",
    submitter_name="Demo Clearing House", submitter_id="DEMOCH01", submitter_contact_name="Claims Desk",
    submitter_contact_phone="+16175550199", submitter_contact_email="claims@example.org",
    receiver_id="DEMOCH", receiver_name="Demo Clearing House",
    isa_sender_qualifier="ZZ", isa_sender_id="TFMG0001", isa_receiver_qualifier="ZZ", isa_receiver_id="DEMOCH",
    usage_indicator="T",
)
GROUP_NPI_INDEX = 90  # demo_npi(90): the group; 91+ the service facilities (providers use 0-7)
# Per demo location (same order as DEMO_LOCATIONS): structured address with ZIP+4.
DEMO_FACILITIES = (
    ("100 Tremont St", "Suite 400", "Boston", "MA", "021081204"),
    ("3700 Wilshire Blvd", "Suite 210", "Los Angeles", "CA", "900102915"),
)
# (name, payer id, claim filing indicator, timely filing days, member id prefix, plan names, copays)
DEMO_PAYERS = (
    ("Acme Health Plan", "ACME1", "CI", 180, "ACM", ("Acme PPO", "Acme Choice"), (20, 25, 30, 40)),
    ("Bay Colony Blue Shield", "BCBS9", "BL", 180, "BCB", ("Blue Advantage PPO", "Blue Select"), (15, 25, 35, 50)),
    ("Summit Mutual Insurance", "SUMM1", "CI", 120, "SMT", ("Summit Gold", "Summit Silver"), (10, 20, 30, 45)),
    ("Harborview HMO", "HRBR1", "HM", 90, "HRB", ("Harborview HMO",), (10, 15, 20)),
    ("Federal Senior Health (Medicare demo)", "MCRD1", "MB", 365, "MCR", ("Part B",), (0,)),
    ("Commonwealth Care (Medicaid demo)", "CWMC1", "MC", 365, "CWC", ("Standard",), (0,)),
)
MEDICARE_PAYER, MEDICAID_PAYER = 4, 5
COMMERCIAL_WEIGHTS = ((0, 30), (1, 30), (2, 20), (3, 20))  # payer index, weight
INSURED_SHARE, SECONDARY_SHARE, PREVIOUS_COVERAGE_SHARE = 0.85, 0.15, 0.05
# The practice's fee schedule: CPT/HCPCS code -> fee. Numbers only: no CPT descriptions (AMA licence).
FEE_EFFECTIVE = date(2026, 1, 1)
DEMO_FEES = {
    "99202": "95.00", "99203": "145.00", "99204": "220.00", "99212": "75.00", "99213": "120.00",
    "99214": "175.00", "99215": "240.00", "99391": "160.00", "99392": "170.00", "99393": "170.00",
    "99394": "185.00", "99395": "190.00", "99396": "205.00", "99397": "220.00", "90471": "25.00",
    "90686": "40.00", "36415": "12.00", "81002": "15.00", "93000": "55.00", "85025": "22.00",
    "83036": "30.00", "87880": "28.00", "80053": "35.00", "80061": "40.00", "G0439": "175.00",
}
# ICD-10-CM codes the demo uses (each checked against the code set in force before use).
DX_CHRONIC = ("I10", "E11.9", "E78.5", "E66.9", "K21.9", "F32.A", "M54.50", "J45.909")
DX_ACUTE = ("J06.9", "R05.9", "J02.9", "N39.0", "R51.9", "L30.9", "M25.561", "R10.9")
DX_CHILD = ("J06.9", "R05.9", "J02.9", "J45.909", "L30.9", "H66.90")
DX_ADULT_EXAM, DX_CHILD_EXAM, DX_VACCINE = ("Z00.00", "Z00.01"), ("Z00.129",), ("Z23",)
# An ancillary service that goes with a diagnosis.
DX_ANCILLARY = {"E11.9": "83036", "E78.5": "80061", "I10": "93000", "J02.9": "87880", "N39.0": "81002",
                "F32.A": "85025", "E66.9": "80053"}
ENCOUNTER_DAYS = 14
TELEHEALTH_MODIFIER = "95"


def _preventive_code(age):
    for limit, code in ((1, "99391"), (5, "99392"), (12, "99393"), (18, "99394"), (40, "99395"), (65, "99396")):
        if age < limit:
            return code
    return "99397"


def _split_person(name, language):
    """(family, given) of a relative's name as PatientMaker.person_name writes it."""
    name = name.strip()
    if " " not in name:  # Chinese written together: one-character family name
        return name[:1], name[1:] or name
    if language == "vi":
        family, given = name.split(" ", 1)
        return family, given
    given, family = name.rsplit(" ", 1)
    return family, given


class _CoverageMaker:
    """Coverage rows for one patient, following add_coverage's rules (no overlap of the same order,
    a payer and member id for insurance, a described subscriber other than the patient, dates past)."""

    def __init__(self, r, payers, today):
        self.r, self.payers, self.today = r, payers, today
        self.commercial, self._commercial_cum = _weighted(COMMERCIAL_WEIGHTS)
        self.members = set()

    def member_id(self, prefix):
        while True:
            value = f"{prefix}{self.r.randint(10_000_000, 99_999_999)}"
            if value not in self.members:
                self.members.add(value)
                return value

    def _payer_for(self, age, minor):
        r = self.r
        if age >= 65 and r.random() < 0.85:
            return MEDICARE_PAYER
        if r.random() < (0.35 if minor else 0.12):
            return MEDICAID_PAYER
        return self.commercial[bisect.bisect_right(self._commercial_cum, r.random())]

    def _subscriber(self, p, minor):
        """Subscriber columns: the patient, a parent for a minor, a spouse who is the guarantor."""
        r = self.r
        if minor and p.guardian_name:
            family, given = _split_person(p.guardian_name, p.preferred_language)
            relation = "child" if p.guardian_relationship in ("mother", "father") else "other"
            sex = {"mother": "female", "father": "male"}.get(p.guardian_relationship, "unknown")
            born = p.birth_date - timedelta(days=r.randint(20 * 365, 42 * 365))
            return dict(subscriber_relationship=relation, subscriber_family_name=family[:60],
                        subscriber_given_name=given[:35], subscriber_birth_date=born, subscriber_sex=sex)
        if not minor and p.guarantor_relationship == "spouse" and p.guarantor_name:
            family, given = _split_person(p.guarantor_name, p.preferred_language)
            born = p.birth_date + timedelta(days=r.randint(-6 * 365, 6 * 365))
            return dict(subscriber_relationship="spouse", subscriber_family_name=family[:60],
                        subscriber_given_name=given[:35], subscriber_birth_date=min(born, self.today),
                        subscriber_sex="unknown")
        return dict(subscriber_relationship="self", subscriber_family_name=None, subscriber_given_name=None,
                    subscriber_birth_date=None, subscriber_sex=None)

    def _row(self, p, priority, payer_index, start, end, subscriber, copay=True):
        name, code, _cfi, _days, prefix, plans, copays = DEMO_PAYERS[payer_index]
        r = self.r
        group = None if payer_index in (MEDICARE_PAYER, MEDICAID_PAYER) else f"G{r.randint(10000, 99999)}"
        return dict(patient_id=p.id, priority=priority, self_pay=False, payer_id=self.payers[payer_index],
                    plan_name=r.choice(plans), member_id=self.member_id(prefix), group_number=group,
                    effective_date=start, end_date=end,
                    copay=Decimal(r.choice(copays)).quantize(Decimal("0.01")) if copay else None,
                    **subscriber)

    def make(self, p):
        r, today = self.r, self.today
        age = age_on(p.birth_date, today)
        minor = age < ADULT_AGE
        yesterday = today - timedelta(days=1)
        start = min(yesterday, max(p.birth_date, today - timedelta(days=r.randint(30, 4 * 365))))
        if r.random() >= INSURED_SHARE:
            return [dict(patient_id=p.id, priority=1, self_pay=True, payer_id=None, plan_name=None, member_id=None,
                         group_number=None, effective_date=start, end_date=None, copay=None,
                         subscriber_relationship="self", subscriber_family_name=None, subscriber_given_name=None,
                         subscriber_birth_date=None, subscriber_sex=None)]
        subscriber = self._subscriber(p, minor)
        primary = self._payer_for(age, minor)
        rows = [self._row(p, 1, primary, start, None, subscriber)]
        if r.random() < SECONDARY_SHARE:
            others = [i for i in range(len(DEMO_PAYERS)) if i not in (primary, MEDICAID_PAYER)]
            rows.append(self._row(p, 2, r.choice(others), start, None, subscriber, copay=False))
        earlier = start - timedelta(days=r.randint(365, 3 * 365))
        if r.random() < PREVIOUS_COVERAGE_SHARE and earlier >= p.birth_date:
            # The plan before this one, ended the day before this one began: same order, no overlap.
            previous = r.choice([i for i in range(len(DEMO_PAYERS)) if i != primary])
            rows.append(self._row(p, 1, previous, earlier, start - timedelta(days=1), subscriber))
        return rows


def _core_insert(session, model, rows, *, seed, returning=False, audited=True):
    """Batch-insert `rows` (dicts) into model's table; one audit event per batch (Core skips the
    per-row capture). Returns the new ids when `returning`."""
    table = model.__table__
    stamp = utcnow()
    if "created_on" in table.c:
        for row in rows:
            row.setdefault("created_on", stamp)
            row.setdefault("changed_on", row["created_on"])
            row.update(created_by_fk=row.get("created_by_fk"), changed_by_fk=row.get("created_by_fk"))
    if "version" in table.c:
        for row in rows:
            row["version"] = 1
    ids = []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True) if returning else insert(table)
    for first in range(0, len(rows), BATCH_SIZE):
        batch = rows[first:first + BATCH_SIZE]
        if returning:
            ids += session.execute(statement, batch).scalars().all()
        else:
            session.execute(statement, batch)
        if audited:
            audit.append(session.connection(), action="create", object_type=model.__name__,
                         details={"source": "seed-demo", "seed": seed, "count": len(batch)})
    return ids


def _ensure_billing_setup(session, locations):
    """Billing settings, one service facility per demo location, the payers (validated by the
    billing setup service, ORM: a handful of audited rows). Returns payer ids in DEMO_PAYERS order."""
    from ..models.billing import BillingSettings, Payer, ServiceFacility
    from . import billing_setup

    if session.get(BillingSettings, 1) is None:
        billing_setup.save_settings(session, dict(DEMO_BILLING, group_npi=demo_npi(GROUP_NPI_INDEX)))
    for index, (location, address) in enumerate(zip(locations, DEMO_FACILITIES)):
        if session.scalar(select(ServiceFacility.id).where(ServiceFacility.location_id == location.id)) is None:
            line1, line2, city, state, postal = address
            session.add(billing_setup.validate_facility(ServiceFacility(
                name=location.name[:60], npi=demo_npi(GROUP_NPI_INDEX + 1 + index), address_line1=line1,
                address_line2=line2, city=city, state=state, postal_code=postal, place_of_service="11",
                location_id=location.id, active=True)))
    payers = []
    for index, (name, code, indicator, days, *_rest) in enumerate(DEMO_PAYERS):
        payer = billing_setup.validate_payer(Payer(
            name=name, payer_code=code, claim_filing_indicator=indicator, timely_filing_days=days,
            address_line1=f"PO Box {1000 + 37 * index}", city="Boston", state="MA", postal_code="02205",
            phone=f"+1800555{index:04d}", active=True))
        session.add(payer)
        payers.append(payer)
    session.commit()
    return [payer.id for payer in payers]


def _seed_fees(session, seed):
    from ..models.billing import FeeScheduleEntry

    if session.scalar(select(FeeScheduleEntry.id).limit(1)) is not None:
        return 0  # the practice has its own fees
    rows = [dict(code=code, modifier="", fee=Decimal(fee), effective_date=FEE_EFFECTIVE)
            for code, fee in DEMO_FEES.items()]
    _core_insert(session, FeeScheduleEntry, rows, seed=seed)
    return len(rows)


def _billable_codes(session, service_dates):
    """{service date: {display code: (code without dot, code set id)}} for the demo's diagnosis codes
    that are billable on that date in the code set in force (icd10.lookup decides)."""
    from . import icd10

    wanted = set(DX_CHRONIC + DX_ACUTE + DX_CHILD + DX_ADULT_EXAM + DX_CHILD_EXAM + DX_VACCINE)
    out = {}
    by_set = {}
    for day in sorted(service_dates):
        code_set = icd10.code_set_on(session, day)
        if code_set is None:
            out[day] = {}
            continue
        if code_set.id not in by_set:
            found = {}
            for code in sorted(wanted):
                row, problem = icd10.lookup(session, code, day)
                if row is not None and problem is None:
                    found[code] = (row.code, row.code_set_id)
            by_set[code_set.id] = found
        out[day] = by_set[code_set.id]
    return out


def _encounter_plan(r, kind, age, codes):
    """([display codes], [(cpt, modifier, [pointers])]) for one visit, or None if no code fits."""
    def available(options):
        return [c for c in options if c in codes]

    minor = age < ADULT_AGE
    dx = []
    if kind.name == "Annual physical":
        dx = available(DX_CHILD_EXAM if minor else DX_ADULT_EXAM)[:1]
    elif kind.name == "Vaccination":
        dx = available(DX_VACCINE)
    pool = available(DX_CHILD if minor else (DX_CHRONIC + DX_ACUTE if age >= 40 else DX_ACUTE + DX_CHRONIC[:4]))
    extra = r.randint(1 if not dx else 0, 3 - len(dx))
    for code in r.sample(pool, min(extra, len(pool))):
        dx.append(code)
    if not dx:
        return None
    pointers = list(range(1, min(len(dx), 4) + 1))
    modifier = TELEHEALTH_MODIFIER if kind.telehealth else None
    if kind.name == "Annual physical":
        lines = [(_preventive_code(age), None, [1])]
    elif kind.name == "Vaccination" and dx[0] in DX_VACCINE:
        lines = [("90471", None, [1]), ("90686", None, [1])]
    elif kind.new_patient:
        lines = [(r.choice(("99203", "99203", "99204", "99202")), modifier, pointers)]
    elif kind.default_duration <= 15:
        lines = [(r.choice(("99212", "99213", "99213")), modifier, pointers)]
    else:
        lines = [(r.choice(("99213", "99213", "99214", "99214", "99215")), modifier, pointers)]
    if not kind.telehealth and len(lines) == 1 and r.random() < 0.45:
        for position, code in enumerate(dx, start=1):
            if code in DX_ANCILLARY:
                lines.append((DX_ANCILLARY[code], None, [position]))
                break
    return dx, lines


def _seed_encounters(session, r, seed, now, facilities):
    """Encounters (diagnoses, charge lines) for the completed visits of the last ENCOUNTER_DAYS days."""
    from ..models import Appointment, AppointmentType
    from ..models.billing import ChargeLine, Encounter, EncounterDiagnosis
    from . import fees
    from .encounters import OFFICE_POS, TELEHEALTH_POS, code_kind

    visits = session.execute(
        select(Appointment.id, Appointment.patient_id, Appointment.provider_id, Appointment.location_id,
               Appointment.start_local, Appointment.end_at, Appointment.type_id, Patient.birth_date)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(Appointment.status.in_(("completed", "checked_out")),
               Appointment.start_at >= now - timedelta(days=ENCOUNTER_DAYS), Appointment.end_at <= now)
        .order_by(Appointment.start_at, Appointment.id)
    ).all()
    kinds = {t.id: t for t in session.scalars(select(AppointmentType))}
    codes_on = _billable_codes(session, {v.start_local.date() for v in visits})
    fee_cache = {}

    def fee(code, modifier, day):
        if (code, modifier, day) not in fee_cache:
            fee_cache[(code, modifier, day)] = fees.fee_for(session, code, modifier or "", day)
        return fee_cache[(code, modifier, day)]

    encounters, plans = [], []
    for v in visits:
        day = v.start_local.date()
        kind = kinds[v.type_id]
        plan = _encounter_plan(r, kind, age_on(v.birth_date, day), codes_on.get(day) or {})
        if plan is None:
            continue
        dx, lines = plan
        lines = [(code, modifier, pointers, fee(code, modifier, day)) for code, modifier, pointers in lines]
        lines = [line for line in lines if line[3] is not None]
        if not lines:
            continue
        facility_id, facility_pos = facilities.get(v.location_id, (None, None))
        age_days = (now.date() - day).days
        status = "ready" if r.random() < (0.75 if age_days > 3 else 0.3) else "open"
        encounters.append(dict(
            appointment_id=v.id, patient_id=v.patient_id, provider_id=v.provider_id, service_facility_id=facility_id,
            service_date=day, place_of_service=TELEHEALTH_POS if kind.telehealth else (facility_pos or OFFICE_POS),
            status=status, created_on=min(now, v.end_at + timedelta(minutes=r.randint(5, 120))),
        ))
        plans.append((day, dx, lines))
    ids = _core_insert(session, Encounter, encounters, seed=seed, returning=True)
    diagnoses, charges = [], []
    for eid, row, (day, dx, lines) in zip(ids, encounters, plans):
        codes = codes_on[day]
        diagnoses += [dict(encounter_id=eid, position=i, code=codes[c][0], code_set_id=codes[c][1])
                      for i, c in enumerate(dx, start=1)]
        for number, (code, modifier, pointers, amount) in enumerate(lines, start=1):
            padded = (pointers + [None] * 4)[:4]
            charges.append(dict(
                encounter_id=eid, line_number=number, code=code, code_kind=code_kind(code), modifier1=modifier,
                modifier2=None, modifier3=None, modifier4=None, units=Decimal(1), fee=amount,
                place_of_service=row["place_of_service"], rendering_provider_id=row["provider_id"],
                pointer1=padded[0], pointer2=padded[1], pointer3=padded[2], pointer4=padded[3],
                created_on=row["created_on"]))
    _core_insert(session, EncounterDiagnosis, diagnoses, seed=seed)
    _core_insert(session, ChargeLine, charges, seed=seed)
    session.commit()
    return {"encounters": len(encounters), "diagnoses": len(diagnoses), "charges": len(charges)}


def _seed_desk(session, r, seed, now, today_by_tz):
    """Eligibility checks for about half of today's insured appointments, copays for some of
    today's checked-in patients (receipt numbers from the copay service's counter)."""
    from ..models import Appointment, AppointmentStatusChange
    from ..models.billing import CopayPayment, Coverage, EligibilityCheck
    from .copays import reserve_receipt_number

    from flask_appbuilder.security.sqla.models import User

    sm_user = session.scalar(select(User.id).where(User.username == "demo_frontdesk"))  # who works the desk
    todays = [a for a in session.execute(
        select(Appointment.id, Appointment.patient_id, Appointment.start_at, Appointment.start_local,
               Appointment.timezone, Appointment.status)
        .where(Appointment.start_at >= now - timedelta(days=1), Appointment.start_at <= now + timedelta(days=1),
               Appointment.status.notin_(("cancelled", "no_show")))
        .order_by(Appointment.start_at, Appointment.id)
    ).all() if a.start_local.date() == today_by_tz(a.timezone)]
    patient_ids = {a.patient_id for a in todays}
    primary = {}
    for cov in session.execute(
        select(Coverage.id, Coverage.patient_id, Coverage.copay, Coverage.effective_date, Coverage.end_date)
        .where(Coverage.priority == 1, Coverage.status == "active", Coverage.self_pay.is_(False))
        .order_by(Coverage.id)
    ):
        if cov.patient_id in patient_ids:
            primary.setdefault(cov.patient_id, []).append(cov)
    arrived = dict(session.execute(
        select(AppointmentStatusChange.appointment_id, AppointmentStatusChange.changed_at)
        .where(AppointmentStatusChange.to_status == "arrived",
               AppointmentStatusChange.appointment_id.in_([a.id for a in todays] or [0]))
    ).all())

    checks, payments = [], []
    for a in todays:
        day = a.start_local.date()
        cov = next((c for c in primary.get(a.patient_id, ())
                    if c.effective_date <= day and (c.end_date is None or c.end_date >= day)), None)
        if cov is None:
            continue
        if r.random() < 0.5:
            checked = min(now, a.start_at - timedelta(hours=r.randint(1, 20), minutes=r.randint(0, 59)))
            checks.append(dict(coverage_id=cov.id, patient_id=a.patient_id, appointment_id=a.id, service_date=day,
                               method="portal", result="active", copay=cov.copay, deductible_remaining=None,
                               out_of_pocket_remaining=None, notes=None,
                               reference=f"PRT{r.randint(100000, 999999)}", trace_number=None,
                               checked_at=checked, checked_by_fk=sm_user))
        if a.id in arrived and cov.copay and r.random() < 0.6:
            method = r.choice(("card", "card", "card", "cash", "cash", "check"))
            reference = {"card": f"AP{r.randint(100000, 999999)}", "check": f"CHK {r.randint(1000, 9999)}"}.get(method)
            payments.append(dict(patient_id=a.patient_id, appointment_id=a.id, amount=cov.copay, method=method,
                                 reference=reference, received_at=arrived[a.id] + timedelta(minutes=r.randint(0, 3)),
                                 received_by_fk=sm_user, voided=False, void_reason=None, notes=None,
                                 created_by_fk=sm_user))
    for row in payments:
        row["received_at"] = min(row["received_at"], now)
        row["created_on"] = row["received_at"]
        row["receipt_number"] = reserve_receipt_number(session)
    _core_insert(session, EligibilityCheck, checks, seed=seed)
    _core_insert(session, CopayPayment, payments, seed=seed)
    session.commit()
    return {"eligibility_checks": len(checks), "copays": len(payments)}


def seed_billing(session, *, seed=DEFAULT_SEED, now=None):
    """Billing demo data: settings, service facilities, payers, coverages, the fee schedule,
    encounters for the last two weeks' completed visits (only with an ICD-10-CM code set
    loaded), today's eligibility checks and copays.

    Skipped (returns None) when any payer exists or there are no patients. Coverages,
    encounters and the rest go in with Core batch inserts that keep the services' rules.
    """
    from zoneinfo import ZoneInfo

    from ..models import Location
    from ..models.billing import Coverage, Payer, ServiceFacility
    from . import icd10

    started = time.perf_counter()
    if not has_patients(session) or session.scalar(select(Payer.id).limit(1)) is not None:
        return None
    r = random.Random(seed * 7 + 8)
    now = now or utcnow()
    locations = [loc for loc in (session.scalar(select(Location).where(Location.name == name))
                                 for name, _tz, _address in DEMO_LOCATIONS) if loc is not None]
    payer_ids = _ensure_billing_setup(session, locations)
    fee_count = _seed_fees(session, seed)
    home_tz = locations[0].timezone if locations else DEMO_LOCATIONS[0][1]
    today = now.astimezone(ZoneInfo(home_tz)).date()

    maker = _CoverageMaker(r, payer_ids, today)
    patients = session.execute(
        select(Patient.id, Patient.birth_date, Patient.preferred_language, Patient.guardian_name,
               Patient.guardian_relationship, Patient.guarantor_relationship, Patient.guarantor_name)
        .where(Patient.status != "merged").order_by(Patient.id)
    ).all()
    coverages = [row for p in patients for row in maker.make(p)]
    _core_insert(session, Coverage, coverages, seed=seed)
    session.commit()

    stats = {"payers": len(payer_ids), "coverages": len(coverages), "fees": fee_count,
             "self_pay": sum(1 for c in coverages if c["self_pay"]),
             "secondary": sum(1 for c in coverages if c["priority"] == 2),
             "encounters": 0, "diagnoses": 0, "charges": 0, "code_set": icd10.has_code_set(session)}
    facilities = {f.location_id: (f.id, f.place_of_service)
                  for f in session.scalars(select(ServiceFacility).where(ServiceFacility.active.is_(True))
                                           .order_by(ServiceFacility.id.desc()))}
    if stats["code_set"]:
        stats.update(_seed_encounters(session, r, seed, now, facilities))
    today_by_tz = functools.lru_cache(maxsize=None)(lambda tz: now.astimezone(ZoneInfo(tz)).date())
    stats.update(_seed_desk(session, r, seed, now, today_by_tz))
    from .inventory import seed_demo as seed_inventory  # demo stock
    stats.update(seed_inventory(session, now=now))
    from .purchasing import seed_demo as seed_purchase_orders  # demo purchase orders
    stats.update(seed_purchase_orders(session, now=now))
    from .referrals import seed_demo as seed_referrals  # demo specialists and referrals
    stats.update(seed_referrals(session, now=now))
    stats["seconds"] = time.perf_counter() - started
    from .demo_billing_flow import seed_for_demo as seed_billing_flow  # claims, payments, AR
    stats.update(seed_billing_flow(session, seed=seed, now=now))
    return stats
