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
