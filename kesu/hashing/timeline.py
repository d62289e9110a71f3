"""What hashing adds to the case page: its live links and the buttons to make or end one."""

from ..cases import timeline
from ..cases.models import Case


def register() -> None:
    timeline.register_section(section)


def section(case: Case) -> dict:
    from .services import live_links

    return {"hashing_links": list(live_links(case))}
