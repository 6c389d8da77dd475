from tests.factories import PatientFactory


def test_front_desk_opens_home_find_register_and_chart(client, login_as):
    login_as("FrontDesk")
    p = PatientFactory(family_name="García", given_name="José")
    for url in ["/", "/patients/find", "/patients/register", f"/patients/{p.id}/chart", f"/patients/{p.id}/edit", "/patientlistview/list/"]:
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code, resp.get_data(as_text=True)[:2000])
