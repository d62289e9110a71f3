"""Fills a fresh data directory with queued notices for the outbox crash test (tests/test_notices_crash.py).

python tests/outbox_crash.py COUNT RECIPIENT
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")


def main(count: int, recipient: str) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from kesu.accounts.principals import SystemPrincipal
    from kesu.cases.services import VictimDetails, create_case
    from kesu.notices import mail, outbox

    case = create_case(SystemPrincipal("crash-test"), "ncii", details=VictimDetails(name="x"), consent=["takedown"])
    for n in range(count):
        message_id = mail.new_message_id(f"KS-CRASH{n}")
        data = mail.build(to=recipient, subject=f"notice {n}", body=f"notice {n}\n", message_id=message_id,
                          language="en")  # fmt: skip
        outbox.queue(key=f"crash:{n}", kind="notice", case=case, to=recipient, data=data, message_id=message_id)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
