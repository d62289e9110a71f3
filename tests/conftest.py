"""Shared fixtures: personas, a case with real reference media, logged-in clients.

Media come from packages (scikit-image's astronaut, matplotlib's
grace_hopper: both public domain) or are made by real encoders here.
"""

import os
import tempfile
from io import BytesIO
from pathlib import Path

# The test run owns a fresh data directory unless the runner gave one.
os.environ.setdefault("KESU_DATA_DIR", tempfile.mkdtemp(prefix="kesu-test-"))

import netguard  # noqa: E402
import pytest  # noqa: E402
from django.test import Client  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

# Before any test runs: nothing leaves loopback (netguard.py says how).
netguard.install()

PASSWORD = "a-long-test-password-31"


def pytest_configure(config):
    """Each pytest-xdist worker gets a data directory of its own inside the run's: a data directory belongs to
    one installation (the bank's index, the desk's calibration, uploads in progress), and each worker has
    its own database. Settings are read before this file is, so the directory goes into the environment
    the worker starts with (execnet's ``env:`` in each worker's spec)."""
    specs = getattr(config.option, "tx", None) or []
    if specs and not os.environ.get("PYTEST_XDIST_WORKER"):
        base = os.environ["KESU_DATA_DIR"]
        config.option.tx = [f"{spec}//env:KESU_DATA_DIR={base}/worker{n}" for n, spec in enumerate(specs)]


def pytest_addoption(parser):
    parser.addoption(
        "--database-only",
        action="store_true",
        help="run only the tests that use the test database (the second database's pass: the others ran already)",
    )


DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def uses_database(item) -> bool:
    return bool(item.get_closest_marker("django_db")) or bool(DATABASE_FIXTURES & set(item.fixturenames))


def pytest_collection_modifyitems(config, items):
    """Files with end-to-end tests first: pytest-xdist hands out whole files (--dist loadfile), and a long
    file handed out last would end the run late. The order within a file is kept (the sort is stable).
    With --database-only, a test that never touches the test database is left out: on a second database it
    would run the very same code again (the processes tests start use SQLite data directories of their own)."""
    if config.getoption("--database-only"):
        kept = [item for item in items if uses_database(item)]
        config.hook.pytest_deselected(items=[item for item in items if not uses_database(item)])
        items[:] = kept
    end_to_end = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in end_to_end)


def png_bytes(array) -> bytes:
    from PIL import Image

    out = BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="session", autouse=True)
def test_resolver():
    """Kesu's own lookups go to this DNS server (KESU_DNS_SERVERS, here and in the processes tests start):
    it answers the names a test serves (``dns`` fixture) and NXDOMAIN for every other."""
    from django.conf import settings
    from sites_servers import DnsServer

    with DnsServer({}) as server:
        before = os.environ.get("KESU_DNS_SERVERS")
        os.environ["KESU_DNS_SERVERS"] = f"{server.host}:{server.port}"
        settings.KESU_DNS_SERVERS = [server.address]
        yield server
        if before is None:
            del os.environ["KESU_DNS_SERVERS"]
        else:
            os.environ["KESU_DNS_SERVERS"] = before


@pytest.fixture
def dns(test_resolver):
    """The test's DNS server: ``dns.serve("leak.example", A=["127.0.0.1"])``; forgotten after the test."""
    test_resolver.queries.clear()
    yield test_resolver
    test_resolver.zone.clear()
    test_resolver.queries.clear()


@pytest.fixture(autouse=True)
def stays_on_loopback():
    """Fails the test that looked a name up through the system or reached for an address off this machine."""
    yield
    leaks = netguard.take()
    if leaks:
        pytest.fail("left loopback: " + "; ".join(leaks[:5]), pytrace=False)


@pytest.fixture
def redis_url(worker_id) -> str:
    """A Redis database of this test process's own, empty before and after: tests running in parallel
    (pytest-xdist) never share a broker queue. Databases 12-15, one per worker."""
    import redis

    number = 12 + (int(worker_id.removeprefix("gw")) % 4 if worker_id.startswith("gw") else 0)
    client = redis.Redis(host="127.0.0.1", port=6379, db=number)
    client.flushdb()
    yield f"redis://127.0.0.1:6379/{number}"
    client.flushdb()
    client.close()


@pytest.fixture(autouse=True)
def fresh_bank():
    """Each test starts with the bank of its own database. The bank checks itself against the database by
    signal ids and counts, and a rolled-back test leaves SQLite free to hand the same ids out again, so a
    bank kept in memory from an earlier test could pass for current."""
    from kesu.matching import bank

    bank.forget()
    yield
    bank.forget()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs ~0.3 s a user; tests make many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def astronaut_png() -> bytes:
    from skimage import data

    return png_bytes(data.astronaut())


@pytest.fixture(scope="session")
def hopper_jpg() -> bytes:
    import matplotlib

    return (Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").read_bytes()


@pytest.fixture
def make_user(db):
    from kesu.accounts.models import User

    def make(username, role="staff"):
        user = User(username=username, role=role, is_staff=role == "admin")
        user.set_password(PASSWORD)
        user.save()
        TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
        return user

    return make


@pytest.fixture
def personas(make_user):
    """staff on the case, staff not on the case, supervisor, admin."""
    return {
        "on_case": make_user("hana"),
        "outsider": make_user("kenji"),
        "supervisor": make_user("sato", "supervisor"),
        "admin": make_user("root", "admin"),
    }


@pytest.fixture
def victim_details():
    from kesu.cases.services import VictimDetails

    return VictimDetails(
        name="山田花子 Hanako Yamada",
        contact={"email": "hanako.yamada@example.org", "phone": "+81-90-1234-5678", "address": "東京都新宿区1-2-3"},
    )


@pytest.fixture(scope="session")
def reference_signals(astronaut_png, hopper_jpg) -> dict[bytes, list]:
    """The signals of the case fixture's two files, computed once per run (the full ML pipeline takes ~0.5 s
    a case) and shared read-only: SignalValue is frozen. Tests of reference banking itself add files
    without them, so that path keeps computing."""
    from kesu.matching.services import medium_of
    from kesu.matching.signals import compute_all

    return {data: compute_all(medium_of(data, reference=True)) for data in (astronaut_png, hopper_jpg)}


@pytest.fixture
def case(personas, victim_details, astronaut_png, hopper_jpg, reference_signals):
    from kesu.accounts.principals import SystemPrincipal
    from kesu.cases import references, services

    operator = SystemPrincipal("test")
    case = services.create_case(
        operator, "ncii", details=victim_details, assignees=[personas["on_case"]], consent=["search", "takedown"]
    )
    signals = reference_signals
    references.add_file(operator, case, "hanako_private_1.png", astronaut_png, signals=signals[astronaut_png])
    references.add_file(operator, case, "hanako_face.jpg", hopper_jpg, kind_hint="face", signals=signals[hopper_jpg])
    services.add_contact(operator, case, "in", "phone", "She called about the forum post from her ex.")
    return case


def verified_client(user) -> Client:
    """A client logged in with password and second factor."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
    session.save()
    return client


@pytest.fixture
def clients(personas):
    return {name: verified_client(user) for name, user in personas.items()}


@pytest.fixture
def cli(capsys):
    """Run ``kesu`` in-process against the test database; returns (code, out, err)."""
    from kesu.cli import main
    from kesu.vault import keyring

    # A fresh data directory's master key is made (and announced on stderr) here, not inside the first command
    # of a test process, whose stderr a test may count line by line
    keyring.keyring()
    capsys.readouterr()

    def run(*argv, stdin: str | None = None):
        import io
        import sys

        old = sys.stdin
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code
        finally:
            sys.stdin = old
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def leak(db):
    """A site whose operator takes notices by e-mail (notices, the case timeline)."""
    from kesu.notices import templates
    from kesu.sites.models import Contact, Organisation, Role, Site

    templates.sync_shipped()
    operator = Organisation.objects.create(role=Role.OPERATOR, key="leak", name="Leak Tube")
    Contact.objects.create(organisation=operator, channel="email", address="abuse@leak.example", priority=10)
    Site.objects.create(domain="leak.example", operator=operator)
    return operator


@pytest.fixture(autouse=True)
def audit_anchor_file(settings, tmp_path_factory):
    """Each test's audit log lives in a rolled-back transaction, with its own audit key: its anchors (the
    log's head kept outside the database) go to a file of its own, never one an earlier test wrote. Nothing
    is created unless the test anchors."""
    import uuid

    settings.KESU_AUDIT_ANCHOR_FILE = tmp_path_factory.getbasetemp() / "audit-anchors" / f"{uuid.uuid4().hex}.jsonl"
    return settings.KESU_AUDIT_ANCHOR_FILE
