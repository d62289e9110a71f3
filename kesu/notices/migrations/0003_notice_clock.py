from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notices", "0002_notice_contact")]

    operations = [
        migrations.AddField(
            model_name="notice", name="clock_started_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="notice",
            name="clock_due_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
    ]
