"""Scheduling setup screens: who may change them, the service's checks on every form,
time off entered in local time and stored in UTC, no deletes of rows in use."""
import html
from datetime import datetime, time

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AppointmentType, Location, Provider, Room
from app.models.scheduling import ProviderException, ProviderHours
from app.services import scheduling
from tests.factories import ProviderFactory
from tests.scheduling_setup import NY, book, make_clinic, utc


def text(resp):
    return html.unescape(resp.get_data(as_text=True))


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def post(client, path, **data):
    return client.post(path, data={"csrf_token": client.csrf_token, **data})


def add_location(client, **changes):
    data = {"name": "Annex", "timezone": "America/Chicago", "address": "2 Side St", "active": "y"}
    data.update(changes)
    return post(client, "/locationview/add", **data)


def test_front_desk_reads_setup_but_cannot_change_it(client, login_as):
    login_as("FrontDesk")
    scheduling.add_location(db.session, name="Main street", timezone=NY)
    page = client.get("/locationview/list/")
    assert page.status_code == 200 and "Main street" in text(page)
    assert "/locationview/add" not in text(page)  # no add button
    for path in ("/roomview/list/", "/appointmenttypeview/list/", "/providerhoursview/list/",
                 "/providerexceptionview/list/"):
        assert client.get(path).status_code == 200, path
    assert add_location(client).status_code == 403
    assert client.get("/locationview/add").status_code == 403
    assert count(Location) == 1


def test_clinicians_and_billing_do_not_see_setup(client, login_as):
    login_as("Billing")
    assert client.get("/locationview/list/").status_code == 403


def test_office_manager_adds_a_location_with_a_known_time_zone(client, login_as):
    login_as("OfficeManager")
    assert add_location(client).status_code == 302
    assert db.session.scalars(select(Location)).one().timezone == "America/Chicago"


def test_an_unknown_time_zone_is_refused_in_the_users_language(client, login_as):
    user = login_as("OfficeManager")
    resp = add_location(client, timezone="Mars/Olympus_Mons")
    assert resp.status_code == 200 and "Unknown time zone." in text(resp)
    user.locale = "es"
    db.session.commit()
    resp = add_location(client, timezone="Mars/Olympus_Mons")
    assert "Zona horaria desconocida." in text(resp)
    assert count(Location) == 0


def test_a_type_with_a_colour_that_is_not_rrggbb_is_refused(client, login_as):
    login_as("OfficeManager")
    data = {"name": "Follow-up", "default_duration": "30", "colour": "red", "active": "y"}
    resp = post(client, "/appointmenttypeview/add", **data)
    assert resp.status_code == 200 and "Write the colour as #rrggbb." in text(resp)
    resp = post(client, "/appointmenttypeview/add", **dict(data, colour="#aa3300", default_duration="0"))
    assert "The duration must be between 1 and 1440 minutes." in text(resp)
    assert count(AppointmentType) == 0
    assert post(client, "/appointmenttypeview/add", **dict(data, colour="#aa3300")).status_code == 302
    kind = db.session.scalars(select(AppointmentType)).one()
    assert (kind.colour, kind.default_duration) == ("#aa3300", 30)
    assert 'type="color"' in client.get(f"/appointmenttypeview/edit/{kind.id}").get_data(as_text=True)


def test_working_hours_ending_before_they_start_are_refused(client, login_as):
    user = login_as("OfficeManager")
    user.locale = "es"
    db.session.commit()
    location = scheduling.add_location(db.session, name="Main street", timezone=NY)
    provider = ProviderFactory()
    data = {"provider": str(provider.id), "location": str(location.id), "weekday": "2", "start_time": "17:00",
            "end_time": "09:00"}
    resp = post(client, "/providerhoursview/add", **data)
    assert resp.status_code == 200 and "El final debe ser posterior al inicio." in text(resp)
    assert count(ProviderHours) == 0
    assert post(client, "/providerhoursview/add", **dict(data, start_time="09:00", end_time="13:30")).status_code == 302
    hours = db.session.scalars(select(ProviderHours)).one()
    assert (hours.weekday, hours.start_time, hours.end_time) == (2, time(9), time(13, 30))
    page = text(client.get("/providerhoursview/list/"))
    assert "miércoles" in page and "13:30" in page  # Wednesday, in the reader's language


def test_time_off_is_entered_in_local_time_and_stored_in_utc_across_a_dst_change(client, login_as):
    login_as("OfficeManager")
    location = scheduling.add_location(db.session, name="Main street", timezone=NY)
    provider = ProviderFactory(default_location_id=location.id)
    # 2027-03-14: New York moves from EST (UTC-5) to EDT (UTC-4) at 02:00.
    data = {"provider": str(provider.id), "kind": "leave", "start_local": "2027-03-14T00:00",
            "end_local": "2027-03-14T18:00", "reason": "Conference"}
    assert post(client, "/providerexceptionview/add", **data).status_code == 302
    item = db.session.scalars(select(ProviderException)).one()
    assert (item.start_at, item.end_at, item.kind) == (utc(2027, 3, 14, 5, 0), utc(2027, 3, 14, 22, 0), "leave")

    resp = post(client, "/providerexceptionview/add", **dict(data, start_local="2027-03-14T02:30"))
    assert resp.status_code == 200 and "does not exist in America/New_York" in text(resp)
    resp = post(client, "/providerexceptionview/add", **dict(data, start_local="2027-03-15T09:00",
                                                            end_local="2027-03-15T08:00"))
    assert "The end must be after the start." in text(resp)
    no_home = ProviderFactory()
    resp = post(client, "/providerexceptionview/add", **dict(data, provider=str(no_home.id)))
    assert "Choose the location whose local time you entered." in text(resp)
    assert count(ProviderException) == 1

    # The edit form shows the local times again.
    page = client.get(f"/providerexceptionview/edit/{item.id}").get_data(as_text=True)
    assert 'value="2027-03-14T00:00"' in page and 'value="2027-03-14T18:00"' in page


def test_time_off_blocks_booking(client, login_as):
    login_as("OfficeManager")
    c = make_clinic()
    data = {"provider": str(c.provider.id), "kind": "blocked", "start_local": "2027-01-11T08:00",
            "end_local": "2027-01-11T12:00", "zone_location": str(c.location.id)}
    assert post(client, "/providerexceptionview/add", **data).status_code == 302
    with pytest.raises(scheduling.ValidationFailed, match="away or blocked"):
        book(c, datetime(2027, 1, 11, 10, 0))


def test_rows_in_use_are_not_deleted(client, login_as):
    login_as("OfficeManager")
    c = make_clinic()
    book(c, datetime(2027, 1, 11, 9, 0), room=c.room)
    for path, model in (("locationview", Location), ("roomview", Room), ("appointmenttypeview", AppointmentType)):
        item_id = db.session.scalars(select(model.id)).first()
        resp = post(client, f"/{path}/delete/{item_id}")
        assert resp.status_code == 302, path
        page = text(client.get(f"/{path}/list/"))
        assert "cannot be deleted: make it inactive instead" in page, path
        assert count(model) == 1, path
    # Deactivating is how a used row goes away: unticking "Active" saves.
    resp = post(client, f"/locationview/edit/{c.location.id}", name=c.location.name, timezone=NY, address="")
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Location, c.location.id).active is False
    spare = Room(location=c.location, name="Spare")
    db.session.add(spare)
    db.session.commit()
    post(client, f"/roomview/delete/{spare.id}")
    assert count(Room) == 1


def test_a_second_room_with_the_same_name_at_a_location_is_refused(client, login_as):
    login_as("OfficeManager")
    c = make_clinic()
    resp = post(client, "/roomview/add", location=str(c.location.id), name="Room 1", active="y")
    assert resp.status_code == 302
    assert "This location already has a room called “Room 1”." in text(client.get("/roomview/list/"))
    assert count(Room) == 1


def test_the_provider_screen_sets_colour_usual_location_and_types(client, login_as):
    login_as("OfficeManager")
    c = make_clinic()
    other = scheduling.add_type(db.session, name="Vaccination", default_duration=15, colour="#00aa00")
    data = {"given_name": "Ana", "family_name": "Ruiz", "active": "y", "colour": "#123456",
            "default_location": str(c.location.id), "appointment_types": [str(other.id)]}
    assert post(client, "/providerview/add", **data).status_code == 302
    provider = db.session.scalars(select(Provider).where(Provider.family_name == "Ruiz")).one()
    assert (provider.colour, provider.default_location_id) == ("#123456", c.location.id)
    assert [t.name for t in provider.appointment_types] == ["Vaccination"]
    resp = post(client, "/providerview/add", **dict(data, family_name="Bad", colour="blue"))
    assert "Write the colour as #rrggbb." in text(resp)
    assert count(Provider) == 2


def test_every_setup_page_opens_for_the_office_manager(client, login_as):
    login_as("OfficeManager")
    c = make_clinic()
    scheduling.add_exception(db.session, provider=c.provider, start_at=utc(2027, 1, 11, 14),
                             end_at=utc(2027, 1, 11, 18), kind="holiday", reason="Closed")
    hours = db.session.scalars(select(ProviderHours)).first()
    off = db.session.scalars(select(ProviderException)).one()
    for path, pk, expected in (("locationview", c.location.id, "America/New_York"), ("roomview", c.room.id, "Room 1"),
                               ("appointmenttypeview", c.type.id, "Follow-up"),
                               ("providerhoursview", hours.id, "09:00"), ("providerexceptionview", off.id, "Holiday")):
        for page in ("list/", f"show/{pk}", f"edit/{pk}", "add"):
            resp = client.get(f"/{path}/{page}")
            assert resp.status_code == 200, (path, page)
        assert expected in text(client.get(f"/{path}/show/{pk}")), path
    # Time off shows in the clinic's local time: 14:00 UTC is 9:00 AM in New York.
    assert "9:00:00" in text(client.get(f"/providerexceptionview/show/{off.id}"))
