"""factory_boy factories for arranging tests."""
from datetime import date

import factory
from factory.alchemy import SQLAlchemyModelFactory

from app.extensions import db
from app.models import Patient, Provider
from app.services.patients import reserve_mrns


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class ProviderFactory(BaseFactory):
    class Meta:
        model = Provider

    family_name = factory.Sequence(lambda n: f"Provider{n}")
    given_name = "Ana"
    credentials = "MD"
    npi = factory.Sequence(lambda n: None)
    specialty = "Family medicine"
    active = True


class PatientFactory(BaseFactory):
    class Meta:
        model = Patient

    mrn = factory.LazyFunction(lambda: reserve_mrns(db.session)[0])
    family_name = factory.Sequence(lambda n: f"Family{n}")
    given_name = "Maria"
    birth_date = date(1980, 3, 4)
    sex = "female"
    preferred_language = "es"
    phone_mobile = None
    status = "active"
