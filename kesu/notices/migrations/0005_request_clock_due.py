from django.db import migrations
from django.db.models import OuterRef, Subquery


def copy_clocks(apps, schema_editor):
    """Requests sent before the history row kept the clock's end get it from their notice."""
    Notice = apps.get_model("notices", "Notice")
    TakedownRequest = apps.get_model("sites", "TakedownRequest")
    due = Notice.objects.filter(request_id=OuterRef("pk")).values("clock_due_at")[:1]
    TakedownRequest.objects.filter(notice__clock_due_at__isnull=False).update(clock_due_at=Subquery(due))


class Migration(migrations.Migration):
    dependencies = [
        ("notices", "0004_noticeurl"),
        ("sites", "0005_takedownrequest_legal_events"),
    ]

    operations = [migrations.RunPython(copy_clocks, migrations.RunPython.noop)]
