"""The statistics API: JSON and CSV, periods, scopes, bad input, and the trends."""

import csv
import io
from typing import Any

import pytest
from django.test import Client

from bulwark.analytics import figures, periods
from bulwark.analytics.tests.dataset import Dataset, build
from bulwark.conftest import bearer

URL = "/api/v1/stats/"


@pytest.fixture
def data(db: Any) -> Dataset:
    return build(incidents=80, events=60, items=40)


def get(client: Client, user: Any, path: str, scopes: list[str] | None = None) -> Any:
    return Client(**bearer(user, scopes or ["stats:read"])).get(path)


def test_the_list_names_every_figure(client: Client, data: Dataset) -> None:
    response = get(client, data.duty, URL)
    assert response.status_code == 200
    keys = [item["key"] for item in response.json()["keys"]]
    assert keys == list(figures.KEYS)
    assert response.json()["trends"] == list(figures.FIVE)


def test_a_figure_as_json_matches_the_figure_as_the_caller_sees_it(
    client: Client, data: Dataset
) -> None:
    for user in (data.duty, data.reporter):
        response = get(client, user, f"{URL}incidents_by_level/?period=2025")
        assert response.status_code == 200
        body = response.json()
        expected = figures.compute("incidents_by_level", user, periods.year(2025))
        assert body["rows"] == [list(row) for row in expected.rows]
        assert body["columns"] == list(expected.columns)
        assert body["period"] == {"label": "2025", "first": "2025-01-01", "last": "2025-12-31"}
    cert = get(client, data.duty, f"{URL}incidents_by_level/?period=2025").json()
    agency = get(client, data.reporter, f"{URL}incidents_by_level/?period=2025").json()
    assert agency["total"] < cert["total"]


def test_csv_is_the_same_table_and_defuses_spreadsheet_formulas(
    client: Client, data: Dataset
) -> None:
    data.foreign[0].name = "=HYPERLINK(evil)"
    data.foreign[0].save()
    response = get(client, data.duty, f"{URL}shared_with_foreign_certs/?period=2025&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    expected = figures.compute("shared_with_foreign_certs", data.duty, periods.year(2025))
    assert table[0] == list(expected.columns)
    assert len(table) == len(expected.rows) + 1
    assert any(row[0].startswith("'=HYPERLINK") for row in table[1:])
    assert not any(row[0].startswith("=") for row in table[1:])


@pytest.mark.parametrize(
    "query, message",
    [
        ("period=20255", "period must be"),
        ("period=2025-13", "month 13"),
        ("period=1899", "outside"),
        ("since=2025-01-01", "both since and until"),
        ("since=2025-02-01&until=2025-01-01", "before since"),
        ("since=yesterday&until=today", "must be dates"),
        ("period=" + "9" * 5000, "period must be"),
    ],
)
def test_a_bad_period_is_a_clear_400(
    client: Client, data: Dataset, query: str, message: str
) -> None:
    response = get(client, data.duty, f"{URL}incidents_by_level/?{query}")
    assert response.status_code == 400
    assert message in str(response.json())


def test_unknown_figures_hostile_keys_scopes_and_anonymous_callers(
    client: Client, data: Dataset
) -> None:
    assert get(client, data.duty, f"{URL}nope/").status_code == 404
    assert get(client, data.duty, f"{URL}..%2F..%2Fetc/").status_code == 404
    assert get(client, data.duty, URL, scopes=["incidents:read"]).status_code == 403
    assert client.get(f"{URL}incidents_by_level/").status_code in (401, 403)


def test_a_dashboard_for_a_date_range_and_with_drills(client: Client, data: Dataset) -> None:
    plain = get(client, data.duty, f"{URL}incidents_by_level/?since=2025-01-01&until=2025-12-31")
    assert (
        plain.json()["rows"]
        == get(client, data.duty, f"{URL}incidents_by_level/?period=2025").json()["rows"]
    )
    with_drills = get(client, data.duty, f"{URL}incidents_by_level/?period=2025&drills=1").json()
    drills = sum(1 for i in data.incidents if i.is_drill and i.reported_at.year == 2025)
    assert with_drills["total"] >= plain.json()["total"]
    assert drills == 0 or with_drills["total"] > plain.json()["total"]


def test_the_trend_has_history_and_forecasts_with_intervals(client: Client, data: Dataset) -> None:
    response = get(client, data.duty, f"{URL}incidents_by_category/trend/?until=2025-12&horizon=3")
    assert response.status_code == 200
    body = response.json()
    assert body["months"][-1] == "2025-12" and body["forecast_months"] == [
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    total = body["series"][0]
    assert total["label"] == "All"
    expected_total = sum(
        1
        for i in data.incidents
        if not i.is_drill and i.organisation.kind in ("government_agency", "authority")
    )
    assert sum(total["history"]) == expected_total
    f = total["forecast"]
    assert f["method"] and f["method_label"] and f["note"]
    for lo95, lo80, point, hi80, hi95 in zip(
        f["lower95"], f["lower80"], f["point"], f["upper80"], f["upper95"], strict=True
    ):
        assert 0 <= lo95 <= lo80 <= point <= hi80 <= hi95
    assert get(client, data.duty, f"{URL}incidents_by_category/trend/?horizon=7").status_code == 400
    assert (
        get(client, data.duty, f"{URL}incidents_by_category/trend/?until=soon").status_code == 400
    )
    assert get(client, data.duty, f"{URL}incidents_by_level/trend/").status_code == 404
