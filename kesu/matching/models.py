from django.db import models


class Signal(models.Model):
    """A value derived from a reference medium (a hash), kept in the case's bank.

    Signals are all that is kept of CSAM references. They are deleted with
    their case.
    """

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="signals")
    reference = models.ForeignKey("cases.ReferenceItem", on_delete=models.CASCADE, related_name="signals")
    kind = models.CharField(max_length=32)
    value = models.CharField(max_length=128)
    quality = models.SmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "value"])]
