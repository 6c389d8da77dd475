"""Providers (clinicians who see patients); extended by Scheduling."""
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from .base import AuditMixin, Model


class Provider(AuditMixin, Model):
    __tablename__ = "provider"

    id = Column(Integer, primary_key=True)
    family_name = Column(String(100), nullable=False)
    given_name = Column(String(100), nullable=False)
    credentials = Column(String(40))  # MD, DO, NP, PA-C ...
    npi = Column(String(10), unique=True)
    specialty = Column(String(100))
    active = Column(Boolean, nullable=False, default=True)
    user_id = Column(Integer, ForeignKey("ab_user.id"), unique=True)
    user = relationship("User", foreign_keys=[user_id])
    # Scheduling: the provider's colour on the calendar and usual location.
    colour = Column(String(7))
    default_location_id = Column(Integer, ForeignKey("location.id", name="fk_provider_default_location"))
    default_location = relationship("Location", foreign_keys=[default_location_id])
    appointment_types = relationship("AppointmentType", secondary="provider_appointment_type",
                                     order_by="AppointmentType.name")

    @property
    def display_name(self):
        name = f"{self.given_name} {self.family_name}"
        return f"{name}, {self.credentials}" if self.credentials else name

    def __str__(self):
        return self.display_name
