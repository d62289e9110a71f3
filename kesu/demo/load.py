"""Demo data: staff logins and a case with benign public-domain images.

The images ship inside installed packages (scikit-image's astronaut, NASA,
public domain; matplotlib's grace_hopper, US Navy, public domain), so the
demo needs no network and holds nothing real.
"""

from io import BytesIO
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from ..accounts import services as accounts
from ..accounts.models import User
from ..accounts.principals import SystemPrincipal
from ..cases import references
from ..cases import services as cases
from ..cases.models import Case

DEMO_PASSWORD = "kesu-demo-desk-2026"
DEMO_USERS = [("demo", User.Role.STAFF), ("sato", User.Role.SUPERVISOR), ("admin", User.Role.ADMIN)]
ACTOR = SystemPrincipal("demo")


def _astronaut() -> tuple[str, bytes]:
    from PIL import Image
    from skimage import data

    out = BytesIO()
    Image.fromarray(data.astronaut()).save(out, "PNG")
    return "astronaut.png", out.getvalue()


def _grace_hopper() -> tuple[str, bytes]:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return "grace_hopper.jpg", path.read_bytes()


def _coffee() -> tuple[str, bytes]:
    from PIL import Image
    from skimage import data

    out = BytesIO()
    Image.fromarray(data.coffee()).save(out, "JPEG", quality=90)
    return "coffee.jpg", out.getvalue()


def _clip() -> tuple[str, bytes]:
    """A 16 s slideshow over public-domain photos (kesu.demo.media), made by a real H.264 encoder."""
    from .media import reference_clip

    return "beach_trip.mp4", reference_clip()


# The demo web's sites that carry the demo case's pictures, and the listing each is patrolled from.
DEMO_WATCHES = {
    "tubeleak.test": {"seeds": ["/latest"], "searches": ["/search?q={query}"], "item_pattern": r"/v/[\w-]+$"},
    "imgboard.test": {"seeds": ["/board/1"], "item_pattern": r"/p/\d+$"},
    "reup.test": {"seeds": ["/new"], "item_pattern": r"/watch/[\w-]+$"},
    "geoblock.test": {"seeds": ["/list"], "item_pattern": r"/i/\d+$"},
}


def watch_demo_web(port: int) -> list:
    """Watches over the demo web on ``port``, and each demo site's operator with an abuse address (its mail
    reaches the demo web's SMTP server, which removes what the notice names). Idempotent."""
    from ..patrol import services as patrol
    from ..patrol.models import Watch
    from ..sites.models import Contact, Organisation, Role, Site, Source, provenance

    watches = []
    for domain, spec in DEMO_WATCHES.items():
        operator, _ = Organisation.objects.get_or_create(
            role=Role.OPERATOR, key=f"demo-{domain}", defaults={"name": f"{domain} (demo web)", "country": "US"}
        )
        demo_contact = {"source": Source.SYNTHETIC, **provenance(ACTOR.audit_label)}
        Contact.objects.get_or_create(
            organisation=operator, channel="email", address=f"abuse@{domain}", defaults=demo_contact
        )
        Site.objects.update_or_create(domain=domain, defaults={"operator": operator, "jurisdiction": "US"})
        base = f"http://{domain}:{port}"
        values = {
            "seeds": [base + path for path in spec["seeds"]],
            "searches": [base + path for path in spec.get("searches", [])],
            "item_pattern": spec["item_pattern"],
            "rate_per_minute": 600,
            "concurrency": 2,
            "every_minutes": 60,
        }
        existing = Watch.objects.filter(site__domain=domain).first()
        watches.append(patrol.save_watch(ACTOR, domain, watch=existing, **values))
    return watches


def load() -> dict:
    """Create the demo users and cases once; later calls change nothing."""
    users = {}
    for username, role in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = accounts.create_user(ACTOR, username, role, DEMO_PASSWORD)
            accounts.enrol_totp_now(ACTOR, user)
        users[username] = user
    if not Case.objects.exists():
        _demo_cases(users)
    _demo_sites()
    return users


def _demo_sites() -> None:
    """The shipped knowledge base, and a SYNTHETIC request history so that predictions have something to learn
    from until the desk imports its real one (``kesu site import``)."""
    from ..notices import templates
    from ..sites import knowledge
    from ..sites.models import Source, TakedownRequest
    from . import synthetic

    knowledge.sync(ACTOR)
    templates.sync_shipped()
    if not TakedownRequest.objects.filter(source=Source.SYNTHETIC).exists():
        synthetic.write(20000, seed=7, actor=ACTOR)


@transaction.atomic
def _demo_cases(users) -> None:
    case = cases.create_case(
        ACTOR,
        "ncii",
        details=cases.VictimDetails(name="デモ 花子", contact={"email": "hanako@example.invalid"}),
        assignees=[users["demo"]],
        consent=["search", "takedown", "evidence"],
    )
    case.mandate_signed_on = timezone.localdate()
    case.save(update_fields=["mandate_signed_on"])
    cases.set_status(ACTOR, case, Case.Status.ACTIVE)
    for name, data in (_astronaut(), _coffee(), _clip()):
        references.add_file(ACTOR, case, name, data)
    references.add_file(ACTOR, case, *_grace_hopper(), kind_hint="face")
    references.add_text(ACTOR, case, "keyword", "demo title 2026")
    cases.add_contact(ACTOR, case, "in", "phone", "First call: wants removal, receipts by e-mail.")
    other = cases.create_case(ACTOR, "voyeurism", details=cases.VictimDetails(name="デモ 次郎"))
    cases.set_assignees(ACTOR, other, [users["sato"]])
