"""Charts of the legal measures on the compliance page (issue 23, item 4): per legal regime and for the first
rows of the chosen grouping, the share removed within the legal clock and the days to removal with the median
and 90th percentile marked. Drawn on the server as SVG with a title and a description that state the numbers;
read here through Django's test client over real rows, the SVG parsed as XML.
"""

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

from django.utils import timezone

from kesu.sites.models import Organisation, Site, TakedownRequest

SVG = "{http://www.w3.org/2000/svg}"


def request(site, regime, sent, outcome, removed_after=None, due_after=timedelta(hours=48)):
    TakedownRequest.objects.create(
        site=site, role="host", case_type="ncii", sent_at=sent, outcome=outcome, source="staff",
        resolved_at=sent + removed_after if removed_after else None, clock_due_at=sent + due_after,
        legal_basis=regime,
    )  # fmt: skip


def make_rows():
    """TAKE IT DOWN: 1 of 4 clocked requests kept its 48 h, removals after 1 and 3 days (median 2.0, p90 2.8).
    DSA: both kept 7 days, removals after 2 and 6 days (median 4.0, p90 5.6). One host each."""
    sent = timezone.now() - timedelta(days=10)
    us = Organisation.objects.create(role="host", key="clockus", name="Clock Hosting US", country="US")
    eu = Organisation.objects.create(role="host", key="clockeu", name="Clock Hosting EU", country="DE")
    us_site = Site.objects.create(domain="clock-us.example", host=us, server_country="US")
    eu_site = Site.objects.create(domain="clock-eu.example", host=eu, server_country="DE")
    request(us_site, "us_take_it_down", sent, "deleted", timedelta(days=1))
    request(us_site, "us_take_it_down", sent, "deleted", timedelta(days=3))
    request(us_site, "us_take_it_down", sent, "still_online", timedelta(days=4))
    request(us_site, "us_take_it_down", sent, "ongoing")
    for days in (2, 6):
        request(eu_site, "eu_dsa_16", sent, "deleted", timedelta(days=days), due_after=timedelta(days=7))


def chart(html: str, ident: str) -> ET.Element:
    [svg] = re.findall(rf'<svg [^>]*aria-labelledby="{ident}-t {ident}-d".*?</svg>', html, re.S)
    return ET.fromstring(svg)


def texts(svg: ET.Element) -> list[str]:
    return [t.text for t in svg.iter(f"{SVG}text")]


def rects(svg: ET.Element, fill: str) -> list[tuple[float, float]]:
    """(x, width) of the bars of a fill, not the tiles of its pattern."""
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("fill") == fill and r.get("x") is not None]
    return [(float(r.get("x")), float(r.get("width"))) for r in bars]


def page(client, query: str, language: str = "en") -> str:
    client.cookies["django_language"] = language
    response = client.get(f"/reports/compliance/{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_per_regime_the_clock_share_and_the_median_and_p90_are_drawn_to_scale_and_stated(db, clients):
    make_rows()
    html = page(clients["on_case"], "?by=regime")
    assert 'id="compliance"' in html  # the table stays, the charts come after it
    clock = chart(html, "regime-clock")
    assert clock.get("role") == "img"
    assert clock.find(f"{SVG}title").text == "Share removed within the legal clock, per legal regime"
    desc = clock.find(f"{SVG}desc").text
    assert desc == "TAKE IT DOWN Act: 25.0 % (1 / 4); DSA Art. 16: 100.0 % (2 / 2)"
    assert rects(clock, "#1f4e8c") == [(190.0, 75.0), (190.0, 300.0)]  # on a fixed 0-100 % axis 300 px wide
    assert {"0 %", "50 %", "100 %", "TAKE IT DOWN Act", "25.0 % (1 / 4)"} <= set(texts(clock))

    days = chart(html, "regime-days")
    assert days.find(f"{SVG}desc").text == (
        "TAKE IT DOWN Act: median 2.0, 90th percentile 2.8 days; DSA Art. 16: median 4.0, 90th percentile 5.6 days"
    )
    # 5.6 days at most: ticks of a day, the axis ends at 6 days = 300 px, 50 px a day
    assert rects(days, "#1f4e8c")[:2] == [(190.0, 100.0), (190.0, 200.0)]  # solid to the median
    assert rects(days, "url(#regime-days-hatch)")[:2] == [(290.0, 40.0), (390.0, 80.0)]  # hatched on to the p90
    marks = sorted(float(line.get("x1")) for line in days.iter(f"{SVG}line") if line.get("stroke-width") == "2")
    assert marks == [290.0, 330.0, 390.0, 470.0]
    assert {"0", "3", "6", "Median days to removal", "From the median to the 90th percentile"} <= set(texts(days))
    assert days.find(f".//{SVG}pattern").get("id") == "regime-days-hatch"  # an id of its own on the page
    assert "rows-clock" not in html  # grouped by regime, the regime charts are the rows' charts
    assert html.count("The same numbers are in the table above.") == 3


def test_grouped_by_host_the_page_draws_its_rows_and_the_regimes_with_a_link_to_their_table(db, clients):
    make_rows()
    html = page(clients["outsider"], "?by=host&sort=name")
    rows = chart(html, "rows-clock")
    assert rows.find(f"{SVG}desc").text == "Clock Hosting EU: 100.0 % (2 / 2); Clock Hosting US: 25.0 % (1 / 4)"
    assert "first rows of this page" in rows.find(f"{SVG}title").text
    assert chart(html, "rows-days").find(f"{SVG}desc").text.startswith("Clock Hosting EU: median 4.0, 90th")
    assert "TAKE IT DOWN Act: 25.0 % (1 / 4)" in chart(html, "regime-clock").find(f"{SVG}desc").text
    assert '<a href="?by=regime">The numbers per legal regime are in the table grouped by legal regime.</a>' in html
    # the minimum filters the page's rows, not the regimes over every request
    html = page(clients["outsider"], "?by=host&min=4")
    assert "No rows match." in html and "rows-clock" not in html and "regime-clock-t" in html


def test_the_charts_in_japanese(db, clients):
    make_rows()
    html = page(clients["on_case"], "?by=regime", "ja")
    assert "法定期限と削除までの日数" in html
    clock, days = chart(html, "regime-clock"), chart(html, "regime-days")
    assert clock.find(f"{SVG}title").text == "法定期限内に削除された割合（法的根拠別）"
    assert "中央値 2.0日、90パーセンタイル 2.8日" in days.find(f"{SVG}desc").text
    assert "中央値から90パーセンタイルまで" in texts(days)


def test_without_a_clock_or_a_removal_there_is_no_chart_and_no_empty_figure(db, clients):
    host = Organisation.objects.create(role="host", key="quiet", name="Quiet Hosting", country="JP")
    site = Site.objects.create(domain="quiet.example", host=host, server_country="JP")
    TakedownRequest.objects.create(site=site, role="host", case_type="ncii", sent_at=timezone.now(), source="staff",
                                   outcome="ongoing", legal_basis="jp_platform_act")  # fmt: skip
    html = page(clients["on_case"], "?by=host")
    assert "Quiet Hosting" in html and 'id="legal-charts"' not in html and "<figure></figure>" not in html
    TakedownRequest.objects.all().delete()
    html = page(clients["on_case"], "?by=regime")
    assert "No rows match." in html and 'id="legal-charts"' not in html
