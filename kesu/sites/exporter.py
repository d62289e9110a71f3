"""Export of the site list in the form the importer reads back without change."""

from collections import defaultdict

from ..lib.spreadsheet import csv_bytes, xlsx_bytes
from .models import Contact, Organisation, Site, TakedownRequest

# (field, Japanese header, English header); the importer knows both.
COLUMNS = (
    ("domain", "ドメイン", "domain"),
    ("site_name", "サイト名", "site name"),
    ("status", "状態", "status"),
    ("relation", "種別", "relation"),
    ("mirror_of", "ミラー元", "mirror of"),
    ("operator", "運営者", "operator"),
    ("jurisdiction", "運営国", "jurisdiction"),
    ("abuse_email", "連絡先メール", "abuse email"),
    ("contact_form", "問い合わせフォーム", "contact form"),
    ("languages", "対応言語", "languages"),
    ("host", "ホスティング", "host"),
    ("server_country", "サーバー国", "server country"),
    ("cdn", "CDN", "cdn"),
    ("registrar", "レジストラ", "registrar"),
    ("notes", "備考", "notes"),
)
REQUEST_COLUMNS = (
    ("reference", "管理番号", "reference"),
    ("domain", "ドメイン", "domain"),
    ("sent_at", "依頼日", "sent at"),
    ("case_type", "類型", "case type"),
    ("role", "依頼先種別", "recipient role"),
    ("recipient", "依頼先", "recipient"),
    ("outcome", "結果", "outcome"),
    ("resolved_at", "削除日", "resolved at"),
    ("url_count", "URL数", "urls"),
    ("legal_basis", "法的根拠", "legal basis"),
)


def _contacts() -> dict[int, dict[str, list[str]]]:
    """Confirmed contacts only: the list others work from carries no address a second person has not checked."""
    out: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    confirmed = Contact.objects.filter(status=Contact.Status.CONFIRMED).order_by("priority", "pk")
    for org_id, channel, address in confirmed.values_list("organisation_id", "channel", "address"):
        out[org_id][channel].append(address)
    return out


def site_rows(sites=None) -> list[dict[str, str]]:
    orgs = {o.pk: o for o in Organisation.objects.all()}
    contacts = _contacts()
    sites = list((sites if sites is not None else Site.objects.all()).order_by("domain"))
    mains = {}
    for site in sites:
        if site.relation == Site.Relation.MAIN and site.operator_id:
            mains.setdefault(site.operator_id, site.domain)
    rows = []
    for site in sites:
        operator = orgs.get(site.operator_id)
        own_name = operator is not None and operator.key.startswith("site:")
        mirror_of = mains.get(site.operator_id, "") if site.relation != Site.Relation.MAIN else ""
        rows.append(
            {
                "domain": site.domain,
                "site_name": operator.name if own_name else "",
                "status": site.status,
                "relation": site.relation,
                "mirror_of": mirror_of if mirror_of != site.domain else "",
                "operator": operator.name if operator and not own_name else "",
                "jurisdiction": site.jurisdiction,
                "abuse_email": "; ".join(contacts[site.operator_id]["email"]) if operator else "",
                "contact_form": (contacts[site.operator_id]["form"] or [""])[0] if operator else "",
                "languages": ", ".join(operator.languages) if operator else "",
                "host": orgs[site.host_id].name if site.host_id else "",
                "server_country": site.server_country,
                "cdn": orgs[site.cdn_id].name if site.cdn_id else "",
                "registrar": orgs[site.registrar_id].name if site.registrar_id else "",
                "notes": site.notes,
                "extra": site.extra or {},
            }
        )
    return rows


def request_rows() -> list[dict[str, str]]:
    rows = []
    query = TakedownRequest.objects.select_related("site", "recipient").order_by("sent_at", "pk")
    for request in query.iterator(chunk_size=5000):
        rows.append(
            {
                "reference": request.reference or f"kesu:{request.pk}",
                "domain": request.site.domain,
                "sent_at": request.sent_at.isoformat(),
                "case_type": request.case_type,
                "role": request.role,
                "recipient": request.recipient.name if request.recipient_id and request.role != "operator" else "",
                "outcome": request.outcome,
                "resolved_at": request.resolved_at.isoformat() if request.resolved_at else "",
                "url_count": str(request.url_count),
                "legal_basis": request.legal_basis,
            }
        )
    return rows


def _table(columns, rows: list[dict], language: str) -> tuple[list[str], list[list[str]]]:
    index = 1 if language == "ja" else 2
    extra = sorted({key for row in rows for key in row.get("extra", {})})
    headers = [column[index] for column in columns] + extra
    body = [[row[column[0]] for column in columns] + [row.get("extra", {}).get(k, "") for k in extra] for row in rows]
    return headers, body


def export(fmt: str = "csv", language: str = "ja", *, requests: bool = False) -> bytes:
    """The site list (and with ``requests`` the request history) as CSV or XLSX bytes."""
    columns, rows = (REQUEST_COLUMNS, request_rows()) if requests else (COLUMNS, site_rows())
    headers, body = _table(columns, rows, language)
    if fmt == "xlsx":
        return xlsx_bytes(headers, body, "requests" if requests else "sites")
    return csv_bytes(headers, body)
