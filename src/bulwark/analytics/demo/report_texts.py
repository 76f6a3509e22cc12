"""The narrative of last year's annual report, as a CERT would write it in the UI."""

from bulwark.analytics.models import TextBlock

# --------------------------------------------------------------------------- report texts

# The narrative of last year's annual report, as a CERT would write it in the UI (a draft to
# show the structure; the figures in the report are counted from the data).
REPORT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "highlights": (
            "The national CERT supports government agencies and critical-infrastructure "
            "operators in preventing, detecting and responding to cyber security incidents.\n\n"
            "- Incident reports from agencies were reviewed by their supervising authorities "
            "and handled against the statutory clocks.\n"
            "- Notice advisories reached every targeted agency; most acknowledged them.\n"
            "- ISAC members shared intelligence both ways under TLP 2.0."
        ),
        "about": (
            "As the national CERT we are the point of contact for the CSIRTs of the "
            "critical-infrastructure sectors at home and for CERTs abroad. We coordinate "
            "information sharing with the sector ISACs, security providers, law enforcement "
            "and other CSIRTs."
        ),
        "operations": (
            "Our duty officers triage reports around the clock, analysts run the cases, and "
            "the monitoring centre matches indicators against agencies' logs. The figures "
            "below are counted from the platform's records."
        ),
        "events": "We ran the national cyber exercise and online courses for agency staff.",
        "international": (
            "We exchanged incident reports with foreign CERTs and took part in regional drills."
        ),
        "future": (
            "Next year we will widen automated report exchange and the monitoring centre's "
            "coverage, and shorten the time from report to review."
        ),
    },
    "zh-hant": {
        "highlights": (
            "國家級資安事件應變中心協助政府機關與關鍵基礎設施提供者預防、偵測及應變資安事件。\n\n"
            "- 機關通報之資安事件由主管機關審核，並依法定時限處理。\n"
            "- 資安通告送達所有目標機關，多數機關已確認收悉。\n"
            "- 資安資訊分享與分析中心成員依 TLP 2.0 雙向分享情資。"
        ),
        "about": (
            "本中心為國內關鍵基礎設施領域 CSIRT 及國外 CERT 之聯繫窗口，"
            "並與各領域 ISAC、資安服務業者、執法機關及其他 CSIRT 協調情資分享。"
        ),
        "operations": (
            "值勤人員全天候分析通報，分析師負責案件處理，監控中心比對機關日誌與入侵指標。"
            "以下數據皆由平台紀錄即時統計。"
        ),
        "events": "本年度辦理國家資安演練及機關人員線上課程。",
        "international": "本中心與國外 CERT 交換資安事件通報，並參與區域演練。",
        "future": "明年將擴大自動化通報交換及監控中心涵蓋範圍，並縮短通報至審核之時間。",
    },
}


def load_report_texts(year: int) -> int:
    """Last year's narrative in both languages; a block the CERT already wrote is kept."""
    made = 0
    for language, sections in REPORT_TEXTS.items():
        for section, body in sections.items():
            _block, created = TextBlock.objects.get_or_create(
                year=year, language=language, section=section, defaults={"body": body}
            )
            made += created
    return made
