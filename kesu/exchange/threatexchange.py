"""A ``threatexchange`` extension: Kesu's partner API as a "kesu" collaboration type, so a platform running the
``threatexchange`` CLI or HMA 2.0 subscribes with configuration alone::

    threatexchange config extensions add kesu.exchange.threatexchange
    threatexchange config collab edit kesu --create --endpoint https://desk.example.org/api/exchange/v1 desk
    echo "$TOKEN" > ~/.txkesu_token          # or TX_KESU_TOKEN in the environment
    threatexchange fetch

Fetched signals carry the case's opaque label as a tag. ``report_opinion`` sends feedback: a false positive
(``NEGATIVE_CLASS``) as "false_positive", a label "disputed" as "disputed", anything else as "removed_here".
Imports neither Django nor the rest of Kesu: it runs in the platform's process.
"""

import typing as t
from dataclasses import dataclass, field

import requests
from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPIWithSimpleUpdates
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type.signal_base import SignalType

TIMEOUT = 60


@dataclass
class _Required:
    endpoint: str = field(metadata={"help": "the desk's partner API, e.g. https://desk.example.org/api/exchange/v1"})


@dataclass
class KesuCollabConfig(CollaborationConfigWithDefaults, _Required):
    pass


@dataclass
class KesuCredentials(auth.CredentialHelper):
    ENV_VARIABLE: t.ClassVar[str] = "TX_KESU_TOKEN"
    FILE_NAME: t.ClassVar[str] = "~/.txkesu_token"

    token: str

    @classmethod
    def _from_str(cls, s: str) -> "KesuCredentials":
        return cls(s.strip())

    def _are_valid(self) -> bool:
        return bool(self.token)


@dataclass
class KesuCheckpoint(state.FetchCheckpointBase):
    checkpoint: int = 0


@dataclass
class KesuSignalMetadata(state.FetchedSignalMetadata):
    label: str = ""

    def get_as_opinions(self) -> t.Sequence[state.SignalOpinion]:
        return [state.SignalOpinion(False, state.SignalOpinionCategory.POSITIVE_CLASS, {self.label})]


class KesuSignalExchangeAPI(
    auth.SignalExchangeWithAuth[KesuCollabConfig, KesuCredentials],
    SignalExchangeAPIWithSimpleUpdates[KesuCollabConfig, KesuCheckpoint, KesuSignalMetadata],
):
    """Deltas of the hashes victims consented to share with this partner, from a Kesu desk."""

    def __init__(self, collab: KesuCollabConfig, token: str) -> None:
        self.collab = collab
        self._headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    def get_name(cls) -> str:
        return "kesu"

    @staticmethod
    def get_config_cls() -> type[KesuCollabConfig]:
        return KesuCollabConfig

    @staticmethod
    def get_checkpoint_cls() -> type[KesuCheckpoint]:
        return KesuCheckpoint

    @staticmethod
    def get_record_cls() -> type[KesuSignalMetadata]:
        return KesuSignalMetadata

    @staticmethod
    def get_credential_cls() -> type[KesuCredentials]:
        return KesuCredentials

    @classmethod
    def for_collab(
        cls, collab: KesuCollabConfig, credentials: KesuCredentials | None = None
    ) -> "KesuSignalExchangeAPI":
        credentials = credentials or KesuCredentials.get(cls)
        return cls(collab, credentials.token)

    def _url(self, path: str) -> str:
        return f"{self.collab.endpoint.rstrip('/')}/{path}"

    def fetch_iter(
        self, _supported_signal_types: t.Sequence[type[SignalType]], checkpoint: KesuCheckpoint | None
    ) -> t.Iterator[state.FetchDelta[tuple[str, str], KesuSignalMetadata, KesuCheckpoint]]:
        at = checkpoint.checkpoint if checkpoint else 0
        while True:
            response = requests.get(
                self._url("delta"), params={"checkpoint": at}, headers=self._headers, timeout=TIMEOUT
            )
            response.raise_for_status()
            body = response.json()
            updates: dict[tuple[str, str], KesuSignalMetadata | None] = {}
            for update in body["updates"]:
                key = (update["signal_type"], update["signal"])
                updates[key] = None if update["removed"] else KesuSignalMetadata(update["label"])
            at = int(body["checkpoint"])
            yield state.FetchDelta(updates, KesuCheckpoint(at))
            if not body["more"]:
                return

    def report_opinion(self, s_type: type[SignalType], signal: str, opinion: state.SignalOpinion) -> None:
        if opinion.category == state.SignalOpinionCategory.NEGATIVE_CLASS:
            word = "false_positive"
        else:
            word = "disputed" if "disputed" in opinion.tags else "removed_here"
        body = {"signal_type": s_type.get_name(), "signal": signal, "opinion": word}
        response = requests.post(self._url("feedback"), json=body, headers=self._headers, timeout=TIMEOUT)
        response.raise_for_status()


TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(KesuSignalExchangeAPI,))
