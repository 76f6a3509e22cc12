"""The statistics page: groups, periods, bad input, and each viewer's own numbers."""

import re
from typing import Any

import pytest
from django.test import Client

from bulwark.analytics import figures, periods
from bulwark.analytics.tests.dataset import Dataset, build
from bulwark.conftest import sign_in


@pytest.fixture
def data(db: Any) -> Dataset:
    return build(incidents=90, events=60, items=40)


def with_fragments(client: Client, html: str) -> str:
    """The page and what it fetches after it is shown (charts, trends: `hx-get`)."""
    parts, queue = [html], re.findall(r'hx-get="([^"]+)"', html)
    while queue:  # a panel fetched after the page fetches its chart in turn
        url = queue.pop(0)
        response = client.get(url.replace("&amp;", "&"))
        assert response.status_code == 200, url
        parts.append(response.content.decode())
        queue += re.findall(r'hx-get="([^"]+)"', parts[-1])
    return "\n".join(parts)


def totals(html: str) -> dict[str, str]:
    """figure key -> the total its table carries."""
    found = re.findall(r'id="fig-([a-z_]+)".*?data-total="([^"]*)"', html, re.S)
    return dict(found)


def test_the_cert_sees_the_five_figures_with_charts_for_the_period(
    client: Client, data: Dataset
) -> None:
    sign_in(client, data.duty)
    html = client.get("/stats/?period=2025").content.decode()
    got = totals(html)
    assert list(got) == list(figures.FIVE)
    for key in figures.FIVE:
        expected = figures.compute(key, data.duty, periods.year(2025)).total
        assert got[key] == str(expected)
    assert "<svg" not in html  # the charts follow the page
    assert with_fragments(client, html).count("<svg") >= 5
    assert 'href="/api/v1/stats/incidents_by_category/?period=2025&amp;format=csv"' in html
    assert "Annual report texts" in html  # the CERT writes the narrative


def test_each_group_renders(client: Client, data: Dataset) -> None:
    sign_in(client, data.duty)
    for group in ("incidents", "timeliness", "activity", "trends"):
        response = client.get(f"/stats/?group={group}&period=2025")
        assert response.status_code == 200, group
    # The timeliness figures are counted after the page, one request each.
    timeliness = client.get("/stats/?group=timeliness&period=2025").content.decode()
    assert "data-total" not in timeliness
    counted = with_fragments(client, timeliness)
    key = next(k for k, d in figures.DASHBOARDS.items() if d.group == figures.GROUP_TIMELINESS)
    expected = figures.compute(key, data.duty, periods.year(2025)).total
    assert f'data-total="{expected}"' in counted
    assert client.get("/stats/chart/?key=nonsense&panel=1").status_code == 400
    trends = client.get("/stats/?group=trends&period=2025&horizon=3").content.decode()
    assert "backtest MASE" not in trends  # each trend follows the page
    trends = with_fragments(client, trends)
    assert "backtest MASE" in trends and trends.count("<svg") >= 5


def test_an_agency_sees_only_its_own_numbers(client: Client, data: Dataset) -> None:
    sign_in(client, data.reporter)
    html = client.get("/stats/?group=incidents&period=2025").content.decode()
    got = totals(html)
    mine = figures.compute("incidents_by_level", data.reporter, periods.year(2025)).total
    cert = figures.compute("incidents_by_level", data.duty, periods.year(2025)).total
    assert got["incidents_by_level"] == str(mine) and mine < cert
    assert "Annual report texts" not in html


@pytest.mark.parametrize(
    "query", ["period=2025-13", "since=2025-05-01&until=2025-01-01", "period=%3Cscript%3E"]
)
def test_a_bad_period_says_why_and_shows_this_year(
    client: Client, data: Dataset, query: str
) -> None:
    sign_in(client, data.duty)
    response = client.get(f"/stats/?{query}")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="period-error"' in html
    assert "<script>" not in html


def test_signed_out_visitors_are_sent_to_sign_in(client: Client, data: Dataset) -> None:
    response = client.get("/stats/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
