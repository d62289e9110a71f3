"""Country and language names as staff write them (Japanese or English, codes or words) -> ISO codes."""

import unicodedata

from ..lib.errors import UserError

# ISO 3166-1 alpha-2 -> names staff use for it. Countries that host, register or
# run the sites the desk deals with; any other two-letter code is accepted as is.
COUNTRIES = {
    "JP": ("japan", "日本", "にほん", "jpn"),
    "US": ("united states", "usa", "america", "u.s.", "u.s.a.", "米国", "アメリカ", "アメリカ合衆国", "合衆国"),
    "NL": ("netherlands", "the netherlands", "holland", "オランダ"),
    "DE": ("germany", "deutschland", "ドイツ"),
    "FR": ("france", "フランス"),
    "GB": ("united kingdom", "uk", "great britain", "england", "イギリス", "英国"),
    "RU": ("russia", "russian federation", "ロシア"),
    "CN": ("china", "中国", "中華人民共和国"),
    "HK": ("hong kong", "香港"),
    "TW": ("taiwan", "台湾"),
    "KR": ("south korea", "korea", "republic of korea", "韓国", "大韓民国"),
    "SG": ("singapore", "シンガポール"),
    "VN": ("vietnam", "viet nam", "ベトナム"),
    "TH": ("thailand", "タイ"),
    "PH": ("philippines", "フィリピン"),
    "ID": ("indonesia", "インドネシア"),
    "MY": ("malaysia", "マレーシア"),
    "IN": ("india", "インド"),
    "CA": ("canada", "カナダ"),
    "MX": ("mexico", "メキシコ"),
    "BR": ("brazil", "ブラジル"),
    "PA": ("panama", "パナマ"),
    "BZ": ("belize", "ベリーズ"),
    "CR": ("costa rica", "コスタリカ"),
    "SC": ("seychelles", "セーシェル"),
    "VG": ("british virgin islands", "英領ヴァージン諸島", "英領バージン諸島"),
    "KY": ("cayman islands", "ケイマン諸島"),
    "CY": ("cyprus", "キプロス"),
    "CZ": ("czech republic", "czechia", "チェコ"),
    "BG": ("bulgaria", "ブルガリア"),
    "RO": ("romania", "ルーマニア"),
    "UA": ("ukraine", "ウクライナ"),
    "MD": ("moldova", "モルドバ"),
    "LT": ("lithuania", "リトアニア"),
    "LV": ("latvia", "ラトビア"),
    "EE": ("estonia", "エストニア"),
    "PL": ("poland", "ポーランド"),
    "SE": ("sweden", "スウェーデン"),
    "FI": ("finland", "フィンランド"),
    "NO": ("norway", "ノルウェー"),
    "DK": ("denmark", "デンマーク"),
    "IS": ("iceland", "アイスランド"),
    "IE": ("ireland", "アイルランド"),
    "LU": ("luxembourg", "ルクセンブルク"),
    "BE": ("belgium", "ベルギー"),
    "CH": ("switzerland", "スイス"),
    "AT": ("austria", "オーストリア"),
    "IT": ("italy", "イタリア"),
    "ES": ("spain", "スペイン"),
    "PT": ("portugal", "ポルトガル"),
    "GR": ("greece", "ギリシャ"),
    "MT": ("malta", "マルタ"),
    "HU": ("hungary", "ハンガリー"),
    "SK": ("slovakia", "スロバキア"),
    "SI": ("slovenia", "スロベニア"),
    "HR": ("croatia", "クロアチア"),
    "RS": ("serbia", "セルビア"),
    "TR": ("turkey", "türkiye", "トルコ"),
    "IL": ("israel", "イスラエル"),
    "AE": ("united arab emirates", "uae", "アラブ首長国連邦"),
    "AU": ("australia", "オーストラリア"),
    "NZ": ("new zealand", "ニュージーランド"),
    "ZA": ("south africa", "南アフリカ"),
    "AR": ("argentina", "アルゼンチン"),
    "CL": ("chile", "チリ"),
    "CO": ("colombia", "コロンビア"),
}

LANGUAGES = {
    "ja": ("japanese", "日本語", "jp", "jpn"),
    "en": ("english", "英語", "eng"),
    "zh": ("chinese", "中国語", "中文", "zh-cn", "zh-tw"),
    "ko": ("korean", "韓国語", "한국어"),
    "ru": ("russian", "ロシア語", "русский"),
    "nl": ("dutch", "オランダ語", "nederlands"),
    "de": ("german", "ドイツ語", "deutsch"),
    "fr": ("french", "フランス語", "français"),
    "es": ("spanish", "スペイン語", "español"),
    "pt": ("portuguese", "ポルトガル語", "português"),
    "it": ("italian", "イタリア語"),
    "vi": ("vietnamese", "ベトナム語"),
    "th": ("thai", "タイ語"),
    "id": ("indonesian", "インドネシア語", "bahasa indonesia"),
    "uk": ("ukrainian", "ウクライナ語"),
    "tr": ("turkish", "トルコ語"),
}


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().lower()


def _index(table: dict) -> dict:
    out = {}
    for code, names in table.items():
        out[code.lower()] = code
        for name in names:
            out[_norm(name)] = code
    return out


_COUNTRY = _index(COUNTRIES)
_LANGUAGE = _index(LANGUAGES)


class BadName(UserError):
    pass


def country_code(text: str) -> str:
    """``'米国'``, ``'USA'``, ``'us'`` -> ``'US'``; empty stays empty."""
    value = _norm(text)
    if not value:
        return ""
    if value in _COUNTRY:
        return _COUNTRY[value]
    if len(value) == 2 and value.isascii() and value.isalpha():
        return value.upper()
    raise BadName(f"unknown country {text.strip()[:40]!r} (use an ISO code like JP, US, NL)")


def language_codes(text: str) -> list[str]:
    """``'日本語、英語'`` -> ``['ja', 'en']`` in the order given, without repeats."""
    out = []
    for part in split_list(text):
        value = _norm(part)
        code = _LANGUAGE.get(value) or (value if len(value) == 2 and value.isascii() and value.isalpha() else None)
        if code is None:
            raise BadName(f"unknown language {part[:40]!r} (use an ISO code like ja, en)")
        if code not in out:
            out.append(code)
    return out


def split_list(text: str) -> list[str]:
    """Cells holding several values: separated by , ; / 、 ・ newlines or spaces around them."""
    value = unicodedata.normalize("NFKC", text or "")
    for sep in (";", "/", "、", "・", "\n", "|", "，"):
        value = value.replace(sep, ",")
    return [part.strip() for part in value.split(",") if part.strip()]
