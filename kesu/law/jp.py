"""Japan: the 情報流通プラットフォーム対処法 (送信防止措置依頼, テレサ書式) and the AV出演被害防止・救済法.

The 2-day rules (私事性的画像 and AV performers) are kept as the desk has used them: 48 elapsed hours.
The designated large platforms' duty to answer a 削除申出 within a period set by ministerial ordinance
is encoded as 7 days from memory (the article number and whether the days are calendar days are not
verified): counted as the Civil Code counts days (clocks.py), so a period ending in 年末年始 or Golden Week
runs to the next working day.
"""

from .base import BASE, Escalation, Regime, Source, register
from .clocks import RECEIVED, Clock

PLATFORM_ACT = "https://laws.e-gov.go.jp/law/413AC0000000137"
REVENGE_PORN_ACT = "https://laws.e-gov.go.jp/law/426AC1000000126"
AV_ACT = "https://laws.e-gov.go.jp/law/504AC1000000078"
TOKYO = {"zone": "Asia/Tokyo", "calendar": "JP"}
TWO_DAYS = Source(
    "私事性的画像記録の提供等による被害の防止に関する法律 (平成26年法律第126号) art. 4: "
    "the provider's wait for the poster's answer is 2 days instead of 7",
    REVENGE_PORN_ACT,
)
AV_16 = Source(
    "AV出演被害防止・救済法 (令和4年法律第78号) art. 15 (停止請求) and art. 16: "
    "the provider's wait for the poster's answer is 2 days instead of 7",
    AV_ACT,
)
LARGE = Source(
    "情報流通プラットフォーム対処法 第20条第1項 (designation of large platforms); "
    "the period to notify the requester of the judgement, 7 days by 総務省令 "
    "(article and counting UNVERIFIED)",
    PLATFORM_ACT,
)
INQUIRY = Source(
    "情報流通プラットフォーム対処法 (旧プロバイダ責任制限法 第3条第2項第2号; "
    "article number after the 2025 renaming UNVERIFIED): "
    "removal without liability when the poster does not answer within 7 days",
    PLATFORM_ACT,
)
COUNSEL = Escalation(
    "counsel (削除仮処分) and 総務省 (for a designated large platform)", "jp_counsel_brief",
    "Hand the brief to counsel for a 削除仮処分 petition; for a designated large platform also report the missed "
    "period to 総務省 (its supervisory powers over large platforms: article UNVERIFIED).",
    Source("民事保全法 第23条第2項 (仮の地位を定める仮処分)", "https://laws.e-gov.go.jp/law/401AC0000000091"),
    verified=False,
)  # fmt: skip
PRIVATE = frozenset({"ncii", "voyeurism", "sextortion"})

register(
    Regime(
        "jp_platform_act",
        "情報流通プラットフォーム対処法",
        "情報流通プラットフォーム対処法 (旧プロバイダ責任制限法) に基づく送信防止措置依頼",
        "特定電気通信による情報の流通によって発生する権利侵害等への対処に関する法律 (平成13年法律第137号)",
        (INQUIRY, TWO_DAYS, LARGE),
        BASE + ("right_infringed", "illegality", "requester", "authority"),
        rank=20,
        countries=frozenset({"JP"}),
        needs_identity=True,
        clocks=(
            # A secretly taken image and one obtained by sextortion are 私事性的画像記録 too.
            Clock(RECEIVED, TWO_DAYS.cite, hours=48, case_types=PRIVATE, **TOKYO),
            Clock(RECEIVED, AV_16.cite, hours=48, case_types=frozenset({"av"}), **TOKYO),
            # 児童ポルノ is illegal in itself: no waiting period protects the poster.
            Clock(
                RECEIVED,
                "desk practice: 児童ポルノ禁止法; no waiting period protects the poster",
                hours=48,
                case_types=frozenset({"csam"}),
                statutory=False,
                **TOKYO,
            ),  # fmt: skip
            Clock(RECEIVED, LARGE.cite, days=7, roles=frozenset({"platform"}), verified=False, **TOKYO),
            # A deepfake is not a 私事性的画像記録: the 7-day inquiry rule (ask counsel).
            Clock(RECEIVED, INQUIRY.cite, hours=168, verified=False, **TOKYO),
        ),
        escalation=COUNSEL,
        note="Use the テレサ書式 (送信防止措置依頼書): location (URL), the information, the right infringed, "
        "the reason, requester's name, address, signature or seal, contact, and a 委任状 when an agent acts.",
    )
)

register(
    Regime(
        "jp_av_act",
        "AV出演被害防止・救済法",
        "AV出演被害防止・救済法 (令和4年法律第78号) 第15条・第16条: 公表の停止請求と送信防止措置",
        "性をめぐる個人の尊厳が重んぜられる社会の形成に資するために性行為映像制作物への出演に係る被害の防止を図り及び"
        "出演者の救済に資するための出演契約等に関する特則等に関する法律",
        (AV_16,),
        BASE + ("right_infringed", "not_consensual", "requester", "authority"),
        rank=10,
        countries=frozenset({"JP"}),
        case_types=frozenset({"av"}),
        needs_identity=True,
        clocks=(Clock(RECEIVED, AV_16.cite, hours=48, **TOKYO),),
        escalation=COUNSEL,
    )
)
