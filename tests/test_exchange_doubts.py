"""Partners' "false_positive" and "disputed" on her hashes reach the review: counted per reference on the case
page (computed from the shared hashes' feedback), "removed_here" is no doubt."""

import pytest
from test_exchange_outbound import MD5, OPERATOR, PDQ, her_case  # noqa: F401 (fixture)

from kesu.exchange import partners
from kesu.exchange import services as exchange

pytestmark = pytest.mark.django_db


def test_partners_doubts_are_counted_per_reference_on_the_case_page(her_case, clients):  # noqa: F811
    exchange.give_consent(OPERATOR, her_case, "partners")
    first, _token = partners.add_partner(OPERATOR, "examplesite")
    second, _token = partners.add_partner(OPERATOR, "othersite")
    for partner in (first, second):
        assert len(partners.delta(partner, 0)["updates"]) == 2
    assert exchange.doubts(her_case) == []
    partners.feedback(first, "pdq", PDQ, "false_positive")
    partners.feedback(second, "pdq", PDQ, "disputed")
    partners.feedback(first, "video_md5", MD5, "removed_here")
    pdq_reference = her_case.signals.get(kind="pdq").reference_id
    assert exchange.doubts(her_case) == [(pdq_reference, 1, 1)]

    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    page = client.get(f"/cases/{her_case.pk}/").content.decode()
    assert f"Reference #{pdq_reference}: 1 false positive, 1 disputed" in page
    client.cookies["django_language"] = "ja"
    page = client.get(f"/cases/{her_case.pk}/").content.decode()
    assert f"参照 #{pdq_reference}：誤検出 1 件、異議 1 件" in page
