"""Search engines' own removal forms: the fields each form asks, in its order, for staff to paste.

A search engine takes a removal request only through its web form, so the desk's "notice" there is a set
of answers. Each ``WebForm`` lists the form's questions; ``fills`` names the answer the notices package
gives (``kesu/notices/formfields.py``). The fields were transcribed from the engines' help pages named in
``sites/data/search_engines.json`` as known to the desk on 2026-11-21; the live forms could not be opened
from here, so each is ``verified=False`` and the page tells staff to follow the live form where it differs.

Pure data: no models, no settings.
"""

from dataclasses import dataclass

from .base import Source

# What a field can be filled with; the notices package has one function per name.
FILLS = (
    "country",  # the desk's country (the requester is the desk, as her representative)
    "requester_role",  # "authorised representative of the person depicted"
    "requester_name",
    "email",
    "authority",  # how the desk may act for her: the mandate and its date
    "depicted",  # her name only with her consent; otherwise a line saying it is withheld
    "imagery",  # what the imagery shows and that she is identifiable
    "consent",  # that she never consented (or withdrew it)
    "not_paid",  # she is not being paid for the content
    "urls",  # the pages and images, one per line
    "reason",  # the notice's full text
    "signature",  # the signatory and today's date
)


@dataclass(frozen=True)
class Field:
    label: str  # the form's question, in the form's language of reference
    label_ja: str
    fills: str
    rows: int = 1

    def __post_init__(self):
        if self.fills not in FILLS:
            raise ValueError(f"{self.label}: no answer named {self.fills!r}; known: {', '.join(FILLS)}")


@dataclass(frozen=True)
class WebForm:
    engine: str  # the search engine's key in sites/data/search_engines.json
    title: str
    source: Source
    fields: tuple[Field, ...]
    case_types: frozenset[str] | None = None  # None: every case type
    verified: bool = False


GOOGLE_HELP = "https://support.google.com/websearch/answer/6302812"
# Google's two forms (real and fake imagery) open and close with the same questions.
GOOGLE_REQUESTER = (
    Field("Country of residence", "居住国", "country"),
    Field(
        "Are you the person depicted or their authorised representative?", "本人か代理人か", "requester_role"
    ),  # fmt: skip
    Field("Your full name", "申請者の氏名", "requester_name"),
    Field("Contact e-mail address", "連絡先メールアドレス", "email"),
    Field("Name of the person you represent", "代理する本人の氏名", "depicted"),
    Field("Explain how you have authority to act for this person", "代理権限の説明", "authority", 3),
)
GOOGLE_URLS_SIGNED = (
    Field("URLs of the images and of the pages showing them", "画像と掲載ページの URL", "urls", 6),
    Field("Signature (type your full name) and date", "署名 (氏名を入力) と日付", "signature"),
)
FORMS: tuple[WebForm, ...] = (
    WebForm(
        "google",
        "Google: remove non-consensual explicit or intimate personal images from Google Search",
        Source(
            "Google Search Help, 'Remove non-consensual explicit or intimate personal images from Google'", GOOGLE_HELP
        ),  # fmt: skip
        (
            *GOOGLE_REQUESTER,
            Field(
                "Is the person identifiable, and is the imagery nude, sexual or intimate?",
                "本人が特定でき、裸・性行為・私的な状態の画像か",
                "imagery",
                2,
            ),  # fmt: skip
            Field("Was the imagery published without consent?", "同意なく公開されたか", "consent", 2),
            Field(
                "Is the person currently being paid for this content?", "本人はこの内容で報酬を得ているか", "not_paid"
            ),  # fmt: skip
            *GOOGLE_URLS_SIGNED,
        ),
        case_types=frozenset({"ncii", "voyeurism", "sextortion", "av"}),
    ),
    WebForm(
        "google",
        "Google: remove involuntary fake explicit imagery (deepfakes) from Google Search",
        Source(
            "Google Search Help, 'Remove involuntary fake pornography from Google'",
            "https://support.google.com/websearch/answer/9116649",
        ),  # fmt: skip
        (
            *GOOGLE_REQUESTER,
            Field(
                "Confirm the imagery is fake and depicts the person in a sexual or intimate way",
                "偽の画像であり本人を性的に描いていること",
                "imagery",
                2,
            ),  # fmt: skip
            *GOOGLE_URLS_SIGNED,
        ),
        case_types=frozenset({"deepfake"}),
    ),
    WebForm(
        "bing",
        "Microsoft: report non-consensual intimate imagery",
        Source(
            "Microsoft, 'Report non-consensual intimate imagery'", "https://www.microsoft.com/en-us/concern/revengeporn"
        ),
        (
            Field("Your name", "申請者の氏名", "requester_name"),
            Field("Your e-mail address", "メールアドレス", "email"),
            Field("Country or region", "国・地域", "country"),
            Field("Are you the person depicted or acting on their behalf?", "本人か代理人か", "requester_role"),
            Field("How you are authorised to act for the person", "代理権限の説明", "authority", 3),
            Field("URL(s) of the content", "コンテンツの URL", "urls", 6),
            Field(
                "Did the person depicted ever consent to its distribution?",
                "本人が配布に同意したことがあるか",
                "consent",
                2,
            ),  # fmt: skip
            Field("Describe the content", "内容の説明", "imagery", 2),
            Field("Signature and date", "署名と日付", "signature"),
        ),
    ),
    WebForm(
        "yahoo-japan",
        "Yahoo! JAPAN 検索: 検索結果の非表示申告",
        Source("Yahoo! JAPAN ヘルプセンター (検索結果の削除・非表示)", "https://support.yahoo-net.jp/"),
        (
            Field("Requester's name", "申告者の氏名 (名称)", "requester_name"),
            Field("E-mail address", "メールアドレス", "email"),
            Field("The person concerned or an agent?", "本人か代理人か", "requester_role"),
            Field("Agent's authority", "代理権限", "authority", 3),
            Field("URLs shown in the results", "対象の URL", "urls", 6),
            Field("How the result infringes the person's rights", "権利侵害の内容 (理由)", "reason", 12),
        ),
    ),
)


def form_for(engine: str, case_type: str) -> WebForm | None:
    """The engine's form for this kind of case, or None (the generic web-form fields then apply)."""
    return next((f for f in FORMS if f.engine == engine and (f.case_types is None or case_type in f.case_types)), None)
