"""Demo data: staff logins and a case with benign public-domain images.

The images ship inside installed packages (scikit-image's astronaut, NASA,
public domain; matplotlib's grace_hopper, US Navy, public domain), so the
demo needs no network and holds nothing real.
"""

from io import BytesIO
from pathlib import Path

from django.db import transaction

from .accounts import services as accounts
from .accounts.models import User
from .accounts.principals import SystemPrincipal
from .cases import references
from .cases import services as cases
from .cases.models import Case

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
    from .sites import knowledge, synthetic
    from .sites.models import Source, TakedownRequest

    knowledge.sync(ACTOR)
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
    cases.set_status(ACTOR, case, Case.Status.ACTIVE)
    for name, data in (_astronaut(), _coffee()):
        references.add_file(ACTOR, case, name, data)
    references.add_file(ACTOR, case, *_grace_hopper(), kind_hint="face")
    references.add_text(ACTOR, case, "keyword", "demo title 2026")
    cases.add_contact(ACTOR, case, "in", "phone", "First call: wants removal, receipts by e-mail.")
    other = cases.create_case(ACTOR, "voyeurism", details=cases.VictimDetails(name="デモ 次郎"))
    cases.set_assignees(ACTOR, other, [users["sato"]])
