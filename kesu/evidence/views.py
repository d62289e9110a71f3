"""The case page's evidence section: ask for a page to be preserved, download or check a bundle."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ..cases import services as cases
from ..lib.errors import NotFound, UserError
from ..lib.web import private
from . import bundle, services


class PreserveForm(forms.Form):
    url = forms.URLField(label=gettext_lazy("Page address"), max_length=4000, assume_scheme="https")


def _bundle(request, case_id, bundle_id):
    try:
        case = cases.case_for(request.user, case_id)
        item = services.bundle_for(request.user, bundle_id)
    except NotFound:
        raise Http404 from None
    if item.case_id != case.pk:
        raise Http404
    return case, item


@login_required
@require_POST
def preserve(request, case_id):
    try:
        case = cases.case_for(request.user, case_id)
    except NotFound:
        raise Http404 from None
    form = PreserveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the full address of the page (https://…)."))
    else:
        try:
            services.request_preservation(request.user, case, form.cleaned_data["url"])
            messages.success(request, _("The page will be captured and preserved; the bundle appears below."))
        except UserError as error:
            messages.error(request, str(error))
    return redirect("cases:detail", case_id=case_id)


@login_required
@require_POST
def download(request, case_id, bundle_id):
    """The bundle as a zip: it holds her images, so only by a deliberate POST, and audited."""
    _case, item = _bundle(request, case_id, bundle_id)
    try:
        data = bundle.to_zip(services.files_of(request.user, item))
    except bundle.BundleError as error:
        messages.error(request, str(error))
        return redirect("cases:detail", case_id=case_id)
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="evidence-{item.pk}.zip"'
    return private(response)


def _after_check(request, case_id):
    """Back where the check was asked from: a review page keeps the reviewer in her queue; else the case."""
    back = request.POST.get("back", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts=None) and back.startswith("/review/"):
        return redirect(back)
    return redirect("cases:detail", case_id=case_id)


@login_required
@require_POST
def check(request, case_id, bundle_id):
    _case, item = _bundle(request, case_id, bundle_id)
    try:
        report = services.verify_stored(request.user, item)
    except bundle.BundleError as error:
        messages.error(request, str(error))
        return _after_check(request, case_id)
    if report.ok:
        messages.success(request, _("Bundle verified: every hash, the signature and the archives check."))
    else:
        failed = next(line for line in report.lines() if line.startswith("FAIL"))
        messages.error(request, _("Bundle NOT verified: %(problem)s") % {"problem": failed[5:]})
    return _after_check(request, case_id)
