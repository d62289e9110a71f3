"""Import of a messy 17,000-row site list (tests/sites_messy.py): dry run, import, re-import.

Baseline: the straightforward import a first version would do, one row at a
time with the ORM (``get_or_create`` per domain, contact and organisation),
on the same rows folded to registrable domains. It gives no dry-run report.
Each run uses a fresh SQLite database (or KESU_DATABASE_URL).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KESU_DATA_DIR", tempfile.mkdtemp(prefix="kesu-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from sites_messy import HEADERS, build, to_csv  # noqa: E402

from kesu.accounts.principals import SystemPrincipal  # noqa: E402
from kesu.sites import importer  # noqa: E402
from kesu.sites.domains import BadDomain, registrable  # noqa: E402
from kesu.sites.models import Contact, Organisation, Site, TakedownRequest  # noqa: E402

ACTOR = SystemPrincipal("bench")


def _clear():
    with transaction.atomic():
        TakedownRequest.objects.all().delete()
        Contact.objects.all().delete()
        Site.objects.all().delete()
        Organisation.objects.all().delete()


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def baseline(table) -> int:
    column = {name: i for i, name in enumerate(HEADERS)}
    with transaction.atomic():
        for row in table[2:]:
            try:
                domain = registrable(row[0].split()[0]) if row[0].strip() else None
            except BadDomain:
                continue
            if domain is None:
                continue
            operator, _ = Organisation.objects.get_or_create(
                role="operator", key=f"site:{domain}", defaults={"name": row[column["サイト名"]] or domain}
            )
            Site.objects.update_or_create(domain=domain, defaults={"operator": operator, "notes": row[column["備考"]]})
            for address in row[column["連絡先"]].split("、"):
                if "@" in address:
                    Contact.objects.get_or_create(organisation=operator, channel="email", address=address.strip())
    return Site.objects.count()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=17000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    table, truth = build(args.rows, seed=7)
    data = to_csv(table)
    _clear()
    base_time, base_sites = timed(lambda: baseline(table))
    _clear()
    dry_time, dry = timed(lambda: importer.run(data, "sites.csv", ACTOR, dry_run=True))
    apply_time, applied = timed(lambda: importer.run(data, "sites.csv", ACTOR, dry_run=False))
    again_time, again = timed(lambda: importer.run(data, "sites.csv", ACTOR, dry_run=False))
    correct = (
        dry.summary()["domains"] == len(truth.domains)
        and dry.summary()["duplicate_rows_merged"] == truth.duplicate_rows
        and dry.summary()["errors"] == truth.invalid + truth.bad_cells
    )
    print(
        f"{args.rows} rows ({len(data) / 1e6:.1f} MB CSV), {len(truth.domains)} distinct sites, "
        f"database: {django.db.connection.vendor}"
    )
    print(f"{'':32} {'seconds':>8}  result")
    print(f"{'baseline: row by row, ORM':32} {base_time:8.1f}  {base_sites} sites, no report")
    print(f"{'kesu dry run (report only)':32} {dry_time:8.1f}  report correct: {correct}")
    print(f"{'kesu import':32} {apply_time:8.1f}  {applied.summary()['sites_created']} sites created")
    print(f"{'kesu re-import (same file)':32} {again_time:8.1f}  {again.changes} changes")
    return 0 if correct and again.changes == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
