"""StopNCII through threatexchange's own client (``StopNCIIAPI``): the wire, nothing of the desk's.

Only hashes leave: a picture's PDQ (``ImagePDQ``) and a video's MD5 (``VideoMD5``), the types StopNCII takes;
no case number, no name, no label. NCMEC: threatexchange 1.2.17's ``NCMECHashAPI`` reads entries and votes on
them but has no upload, so CSAM hashes are not sent from here (her consent is recorded for NCMEC's own portal).
"""

from collections.abc import Iterator

from django.conf import settings
from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIIAPI,
    StopNCIICSPFeedback,
    StopNCIICSPFeedbackValue,
    StopNCIIEndpoint,
)

from ..lib.errors import UserError

# threatexchange's type name -> StopNCII's signalType. The value, not the enum: the client's submit_hashes
# writes ``str(signal_type)``, for its own enum "StopNCIISignalType.ImagePDQ" (tests/test_exchange_outbound.py).
STOPNCII_TYPES = {"pdq": "ImagePDQ", "video_md5": "VideoMD5"}
FROM_STOPNCII = {wire: name for name, wire in STOPNCII_TYPES.items()}
START = StopNCIIAPI.DEFAULT_START_TIME


def client(*needed: str) -> StopNCIIAPI:
    """The client, with the keys of the endpoints needed; UserError naming the missing setting."""
    keys = {
        StopNCIIEndpoint.SubmitHashes: settings.KESU_STOPNCII_SUBMIT_KEY,
        StopNCIIEndpoint.SubmitFeedback: settings.KESU_STOPNCII_FEEDBACK_KEY,
        StopNCIIEndpoint.FetchHashes: settings.KESU_STOPNCII_FETCH_KEY,
    }
    names = {"SubmitHashes": "SUBMIT", "SubmitFeedback": "FEEDBACK", "FetchHashes": "FETCH"}
    missing = ["KESU_STOPNCII_SUBSCRIPTION_KEY"] if not settings.KESU_STOPNCII_SUBSCRIPTION_KEY else []
    missing += [f"KESU_STOPNCII_{names[e.value]}_KEY" for e in keys if e.value in needed and not keys[e]]
    if missing:
        raise UserError(f"StopNCII is not configured: set {', '.join(missing)}")
    fetch = keys.pop(StopNCIIEndpoint.FetchHashes)
    extra = {endpoint: key for endpoint, key in keys.items() if key}
    return StopNCIIAPI(settings.KESU_STOPNCII_SUBSCRIPTION_KEY, fetch, extra, settings.KESU_STOPNCII_URL)


def submit(hashes: list[tuple[str, str]]) -> None:
    """Send (threatexchange type, signal) pairs as hashes the desk vouches for (her own images)."""
    vouched = StopNCIICSPFeedback(StopNCIICSPFeedbackValue.Blocked)
    client("SubmitHashes").submit_hashes({(STOPNCII_TYPES[kind], signal): vouched for kind, signal in hashes})


def withdraw(hashes: list[tuple[str, str]]) -> None:
    """A "Withdrawn" feedback on each: StopNCII's platforms must delete hashes so marked."""
    withdrawn = StopNCIICSPFeedback(StopNCIICSPFeedbackValue.Withdrawn)
    client("SubmitFeedback").submit_feedbacks({(STOPNCII_TYPES[k], s): withdrawn for k, s in hashes})


def feedback(since: int = START) -> Iterator[tuple[str, str, str, str]]:
    """(threatexchange type, signal, platform, opinion) for every platform's feedback StopNCII holds."""
    for opinions, _checkpoint in feedback_pages(since):
        yield from opinions


def feedback_pages(since: int = START, most: int | None = None) -> Iterator[tuple[list, int]]:
    """Feedback given since ``since`` a page at a time, at most ``most`` pages: each page's (type, signal,
    platform, opinion) and StopNCII's checkpoint after it (``nextSetTimestamp``, as threatexchange's own
    ``StopNCIICheckpoint`` keeps it)."""
    for count, page in enumerate(client("FetchHashes").fetch_hashes_iter(since)):
        if most is not None and count >= most:
            return
        yield list(_opinions(page.hashRecords)), page.nextSetTimestamp


def _opinions(records) -> Iterator[tuple[str, str, str, str]]:
    for record in records:
        kind = FROM_STOPNCII.get(record.signalType.value)
        for given in record.CSPFeedbacks if kind else []:
            yield kind, record.hashValue, given.source or "StopNCII", given.feedbackValue.value
