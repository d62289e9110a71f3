"""A deliberately messy site list like the ones desks keep in Excel, with the truth about it.

Japanese headers under a title line, URLs in every form people paste them
(scheme or not, www, paths, upper case, full-width, defanged, trailing dots),
subdomains, duplicates with conflicting cells, IDN domains, dead sites,
mirrors, bad e-mails and countries, rows that are not domains at all, blank
rows, and a column Kesu does not know. Used by the tests and the benchmark.
"""

import csv
import io
import random
from dataclasses import dataclass, field

HEADERS = [
    "ドメイン",
    "サイト名",
    "状態",
    "ミラー元",
    "運営国",
    "連絡先",
    "問い合わせフォーム",
    "対応言語",
    "ホスティング",
    "サーバー国",
    "CDN",
    "レジストラ",
    "備考",
    "最終確認日",
]
TLDS = ["com", "net", "org", "xxx", "tv", "jp", "co.jp", "info", "to", "cc", "me", "io", "ru", "nl", "sex", "porn"]
WORDS = ["tube", "av", "douga", "ero", "hot", "vid", "leak", "cam", "upload", "share", "jav", "clip", "movie", "pics"]
HOSTS = [
    ("Cloudflare, Inc.", "CloudFlare"),
    ("OVH SAS", "ovh"),
    ("Hetzner Online GmbH", "HETZNER ONLINE"),
    ("Sakura Internet Inc.", "さくらインターネット"),
    ("LeaseWeb Netherlands B.V.", "Leaseweb"),
]
COUNTRIES = [
    ("US", ["米国", "USA", "us", "アメリカ"]),
    ("NL", ["オランダ", "NL", "Netherlands"]),
    ("JP", ["日本", "JP", "Japan"]),
    ("RU", ["ロシア", "RU"]),
    ("SC", ["セーシェル", "SC"]),
]
LANGUAGES = [("日本語", ["ja"]), ("英語", ["en"]), ("日本語、英語", ["ja", "en"]), ("en, ja", ["en", "ja"]), ("", [])]
INVALID = ["not a domain", "http://", "192.168.0.1", "co.jp", "例え", "http://exa mple", "-bad-.com", "a..b.com"]


@dataclass
class Truth:
    rows: int = 0  # non-blank rows
    blank: int = 0
    invalid: int = 0
    bad_cells: int = 0  # rows kept but with one cell reported (bad e-mail, unknown country)
    domains: set = field(default_factory=set)
    subdomain_rows: int = 0
    duplicate_rows: int = 0
    dead: set = field(default_factory=set)
    mirrors: set = field(default_factory=set)
    idn: set = field(default_factory=set)


def _forms(domain: str, rng: random.Random) -> tuple[str, bool]:
    """One way of writing the domain, and whether it names a subdomain."""
    sub = rng.choice(["m", "cdn3", "jp", "video", "s1"])
    forms = [
        (domain, False),
        (f"http://{domain}", False),
        (f"https://www.{domain}/", False),
        (f"HTTPS://{domain.upper()}/videos?page=2", False),
        (f"www.{domain}", False),
        (f"  {domain}.  ", False),
        (f"//{domain}/path/x.html", False),
        (f"hxxps://{domain.replace('.', '[.]')}", False),
        (f"https://{sub}.{domain}/watch/123", True),
        (f"{sub}.{domain}", True),
    ]
    if domain.isascii():
        full = domain.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}).replace("．", "．")
        forms.append((full, False))
    return rng.choice(forms)


def _domain(index: int, rng: random.Random, truth: Truth) -> str:
    if index % 97 == 0:
        label = f"動画{index}"
        import idna

        domain = idna.encode(f"{label}.jp", uts46=True).decode()
        truth.idn.add(domain)
        return domain
    return f"{rng.choice(WORDS)}{index}{rng.choice(WORDS)}.{rng.choice(TLDS)}"


def _cells(rng: random.Random, truth: Truth, domain: str, mirror_of: str, dead: bool) -> dict:
    host = rng.choice(HOSTS)
    country = rng.choice(COUNTRIES)
    language = rng.choice(LANGUAGES)
    email = rng.choice(
        [f"abuse@{domain}", f"mailto:support@{domain}", f"abuse＠{domain}", f"dmca@{domain}、info@{domain}"]
    )
    bad = rng.random() < 0.01
    if bad:
        email = rng.choice(["abuse(at)example", "no-reply"]) if rng.random() < 0.5 else email
        email_ok = email.endswith(domain) or "、" in email or "＠" in email or "mailto" in email
        country_cell = "Narnia" if email_ok else rng.choice(country[1])  # one bad cell per bad row
    else:
        country_cell = rng.choice(country[1])
    truth.bad_cells += bad
    return {
        "サイト名": f"Site {domain[:20]}",
        "状態": rng.choice(["閉鎖", "dead", "×"]) if dead else rng.choice(["稼働", "", "○", "active"]),
        "ミラー元": mirror_of,
        "運営国": country_cell,
        "連絡先": email,
        "問い合わせフォーム": rng.choice(["", f"https://{domain}/contact", f"{domain}/dmca"]),
        "対応言語": language[0],
        "ホスティング": rng.choice(host),
        "サーバー国": rng.choice(country[1]) if not bad else "",
        "CDN": rng.choice(["", "", "Cloudflare", "cloudflare"]),
        "レジストラ": rng.choice(["", "NameCheap, Inc.", "GMO Internet, Inc.", "Tucows Domains Inc."]),
        "備考": rng.choice(["", "", "削除に応じない", "英語のみ対応", '=HYPERLINK("x")']),
        "最終確認日": rng.choice(["", "2025/3/31", "2024-12-01"]),
    }


def build(rows: int = 17000, seed: int = 7) -> tuple[list[list[str]], Truth]:
    """The rows of the messy list (with its title line and header row) and what a correct import must report."""
    rng = random.Random(seed)
    truth = Truth()
    table = [["サイトDB 2025年版（内部資料）"], HEADERS]
    known: list[str] = []
    for index in range(rows):
        roll = rng.random()
        if roll < 0.01:
            table.append([""] * len(HEADERS))
            truth.blank += 1
            continue
        truth.rows += 1
        if roll < 0.015:
            table.append([rng.choice(INVALID)] + [""] * (len(HEADERS) - 1))
            truth.invalid += 1
            continue
        mirror_of, dead = "", False
        if known and roll < 0.10:
            domain = rng.choice(known)  # the same site again, written another way
            truth.duplicate_rows += 1
            dead = domain in truth.dead  # a later row never contradicts the first one's status
        else:
            domain = _domain(index, rng, truth)
            if len(known) > 10 and rng.random() < 0.05:
                mirror_of = rng.choice(known)
                truth.mirrors.add(domain)
            elif rng.random() < 0.1:
                dead = True
                truth.dead.add(domain)
            known.append(domain)
            truth.domains.add(domain)
        text, is_sub = _forms(domain, rng)
        truth.subdomain_rows += is_sub
        cells = _cells(rng, truth, domain, mirror_of, dead)
        table.append([text] + [cells[h] for h in HEADERS[1:]])
    return table, truth


def to_csv(table: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(table)
    return out.getvalue().encode(encoding)


def to_xlsx(table: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    notes = book.create_sheet("説明")
    notes.append(["このファイルはサイトの一覧です"])
    sheet = book.create_sheet("サイト一覧")
    for row in table:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
