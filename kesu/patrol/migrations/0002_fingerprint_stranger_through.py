from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patrol", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="fingerprint",
            name="stranger_through",
            field=models.PositiveBigIntegerField(
                blank=True,
                help_text="matched nothing in the bank up to this signal; only the SHA-256 is kept",
                null=True,
            ),
        ),
    ]
