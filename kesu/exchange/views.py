"""The case page's hash-sharing form: staff record her consent per destination, or its withdrawal."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..cases.views import case_or_404
from ..lib.errors import UserError
from . import services
from .timeline import destination_label


@login_required
@require_POST
def consent(request, case_id):
    case = case_or_404(request, case_id)
    destination = request.POST.get("destination", "")
    try:
        if request.POST.get("withdraw"):
            services.withdraw_consent(request.user, case, destination)
            messages.success(request, _("Consent withdrawn: %(to)s") % {"to": destination_label(destination)})
        else:
            services.give_consent(request.user, case, destination)
            messages.success(request, _("Consent recorded: %(to)s") % {"to": destination_label(destination)})
    except UserError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("cases:detail", args=[case.pk]) + "#sharing")
