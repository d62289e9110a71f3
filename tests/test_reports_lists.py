"""Issue 20 item 7, reports and lists: the fiscal-year page and its download list the same years (the current
one included); the re-uploads table lists only sites with re-uploads; case search works within the filters.
"""

import csv
import io
import re
from datetime import timedelta

from django.utils import timezone

from kesu.reports import services
from kesu.sites.models import Site, TakedownRequest


def fiscal_years_on(html: str) -> list[str]:
    table = html.split('id="years"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<th scope="row">FY(\d{4})</th>', table)


def test_the_page_and_its_csv_list_the_same_years_up_to_the_current_one(db, clients):
    site = Site.objects.create(domain="years.example", jurisdiction="JP")
    current = services.fiscal_year_of(timezone.now())
    for year in (current - 3, current - 1):  # none in the current year, none two years back
        TakedownRequest.objects.create(site=site, case_type="ncii", sent_at=services.fiscal_year_start(year)
                                       + timedelta(days=10), outcome="deleted", source="staff")  # fmt: skip
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    on_page = fiscal_years_on(client.get("/reports/").content.decode())
    assert on_page == [str(year) for year in range(current - 3, current + 1)]
    body = client.get("/reports/?format=csv&table=years").content.decode("utf-8-sig")
    in_csv = [row[0] for row in csv.reader(io.StringIO(body))][1:]
    assert in_csv == on_page + ["Total"]
    assert body.splitlines()[-2].startswith(f"{current},0,0,")  # the current year, empty, in both
    ranged = fiscal_years_on(client.get(f"/reports/?from={current - 2}&to={current - 1}").content.decode())
    assert ranged == [str(current - 2), str(current - 1)]


def test_the_reuploads_table_lists_only_sites_with_reuploads(db, clients):
    sent = timezone.now() - timedelta(days=30)
    for i in range(60):  # 60 sites that removed and never re-uploaded: no rows of zeros
        site = Site.objects.create(domain=f"quiet{i}.example", jurisdiction="JP")
        TakedownRequest.objects.create(site=site, case_type="ncii", sent_at=sent, outcome="deleted",
                                       resolved_at=sent + timedelta(days=1), source="staff")  # fmt: skip
    again = Site.objects.create(domain="again.example", jurisdiction="JP", reuploads=4)
    TakedownRequest.objects.create(site=again, case_type="ncii", sent_at=sent, outcome="deleted",
                                   resolved_at=sent + timedelta(days=1), source="staff")  # fmt: skip
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    html = client.get("/reports/reuploads/").content.decode()
    table = html.split('id="reuploads"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 2 and "again.example" in table and "quiet" not in table
    assert 'class="pages"' not in html
    summary = services.reupload_summary(services.all_requests())
    assert (summary.removed, summary.reuploads, summary.sites) == (61, 4, 1)  # the summary counts every removal
    rows = list(csv.reader(io.StringIO(client.get("/reports/reuploads/?format=csv").content.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["again.example"]


def test_case_search_works_within_the_active_filters(personas, victim_details, clients):
    from kesu.accounts.principals import SystemPrincipal
    from kesu.cases import services as cases

    made = {kind: cases.create_case(SystemPrincipal("test"), kind, details=victim_details,
                                    assignees=[personas["on_case"]], consent=["takedown"])
            for kind in ("ncii", "csam")}  # fmt: skip
    prefix = made["ncii"].victim.code[:2]
    assert made["csam"].victim.code.startswith(prefix)  # the search text matches both cases
    client = clients["on_case"]
    both = client.get(f"/?q={prefix}").content.decode()
    assert f"/cases/{made['ncii'].pk}/" in both and f"/cases/{made['csam'].pk}/" in both
    filtered = client.get(f"/?q={prefix}&type=csam").content.decode()
    assert f"/cases/{made['csam'].pk}/" in filtered and f'/cases/{made["ncii"].pk}/"' not in filtered
    closed = client.get(f"/?q={prefix}&status=closed").content.decode()
    assert f"/cases/{made['csam'].pk}/" not in closed and f"/cases/{made['ncii'].pk}/" not in closed
