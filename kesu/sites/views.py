"""Staff pages for the domain knowledge base. Views parse and render; the services do the work."""

import secrets
import time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..audit.services import Actor
from ..lib.datadir import ensure_dir, write_private
from ..lib.errors import NotFound, UserError
from . import services
from .forms import ContactForm, ExportForm, ImportForm, RouteForm, SiteEditForm
from .models import Contact, Role, Site

MAX_IMPORT = 200 << 20
PENDING_SECONDS = 3600


def _site(domain: str) -> Site:
    try:
        return services.site_for(domain)
    except NotFound:
        raise Http404 from None


@login_required
def site_list(request):
    q, status, country = request.GET.get("q", ""), request.GET.get("status", ""), request.GET.get("country", "")
    page = Paginator(services.find_sites(q, status, country), 50).get_page(request.GET.get("page"))
    context = {"page": page, "q": q, "status": status, "country": country, "statuses": Site.Status.choices}
    return render(request, "sites/list.html", context)


@login_required
def site_detail(request, domain):
    site = _site(domain)
    form = SiteEditForm(request.POST or None, instance=site)
    if request.method == "POST" and form.is_valid():
        changed = services.update_site(request.user, Site.objects.get(pk=site.pk), form.cleaned_data)
        messages.success(request, _("Saved.") if changed else _("Nothing changed."))
        return redirect("sites:detail", domain=site.domain)
    context = {
        "site": site,
        "form": form,
        "contact_form": ContactForm(),
        "group": services.group_of(site),
        "history": services.history_summary(site),
        "requests": site.requests.select_related("recipient")[:50],
        "organisations": [(label, org) for label, org in _organisations(site) if org],
        "me": Actor.of(request.user).label,
        "changes": services.unseen_changes(request.user, site),
    }
    context.update(_extras(site))
    return render(request, "sites/detail.html", context)


def _organisations(site: Site):
    return [
        (_("Operator"), site.operator),
        (_("Hosting provider"), site.host),
        (_("CDN"), site.cdn),
        (_("Registrar"), site.registrar),
    ]


def _extras(site: Site) -> dict:
    """What a request would likely do here: per case type and recipient role, from the history."""
    from ..cases.models import CaseType
    from .prediction import predict_for

    roles = [role for role, org in (("operator", site.operator), ("host", site.host), ("cdn", site.cdn),
                                    ("registrar", site.registrar)) if org]  # fmt: skip
    rows, synthetic = [], False
    try:
        for case_type, label in CaseType.choices:
            cells = []
            for role in roles:
                prediction = predict_for(site, role, case_type)
                synthetic = synthetic or prediction.synthetic
                cells.append(prediction)
            rows.append((label, cells))
    except UserError:
        return {"prediction_roles": [], "prediction_rows": []}  # no settled history to learn from yet
    labels = dict(Role.choices)
    return {
        "prediction_roles": [labels[r] for r in roles],
        "prediction_rows": rows,
        "prediction_synthetic": synthetic,
        "route_form": RouteForm(initial={"url": f"https://{site.domain}/"}),
    }


@login_required
def route_view(request):
    """The escalation ladder for a URL (any URL: unknown sites get a ladder that says what is missing).

    Only by POST: her URL in a query string would be written to every access log on the way."""
    from .routing import route

    if request.method != "POST" and request.GET:
        return redirect("sites:route")  # an old link: its URL is not echoed into the page (nor its language form)
    form, ladder = RouteForm(request.POST if request.method == "POST" else None), None
    if form.is_bound and form.is_valid():
        try:
            ladder = route(
                form.cleaned_data["url"],
                form.cleaned_data["case_type"],
                victim_holds_copyright=form.cleaned_data["copyright"],
            )
        except UserError as error:
            form.add_error("url", str(error))
    return render(request, "sites/route.html", {"form": form, "ladder": ladder})


@login_required
@require_POST
def contact_add(request, domain):
    site = _site(domain)
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            contact = services.add_contact(request.user, site, **form.cleaned_data)
            if contact.status == Contact.Status.PROPOSED:
                messages.success(request, _("Contact proposed: notices use it once a supervisor confirms it."))
            else:
                messages.info(request, _("This contact is already on file."))
        except UserError as error:
            messages.error(request, str(error))
    else:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    return redirect("sites:detail", domain=site.domain)


def _contact(site: Site, contact_id: int) -> Contact:
    """A contact of one of the site's organisations, else 404."""
    contact = Contact.objects.filter(pk=contact_id, organisation__in=[o for _l, o in _organisations(site) if o]).first()
    if contact is None:
        raise Http404
    return contact


@login_required
@require_POST
def contact_bounced(request, domain, contact_id):
    site = _site(domain)
    contact = _contact(site, contact_id)
    services.set_bounced(request.user, contact, bounced=request.POST.get("bounced") == "1", site=site)
    return redirect("sites:detail", domain=site.domain)


@login_required
@require_POST
def contact_decide(request, domain, contact_id):
    """A supervisor confirms or rejects a proposed contact (not one she proposed herself)."""
    if not request.user.sees_all_cases:
        raise Http404
    site = _site(domain)
    contact = _contact(site, contact_id)
    decision = request.POST.get("decision", "")
    try:
        services.decide_contact(request.user, contact, decision, site=site)
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Contact confirmed.") if decision == "confirm" else _("Contact rejected."))
    return redirect("sites:detail", domain=site.domain)


@login_required
def changes(request):
    """Changes to sites while notices to them were open, for supervisors, until one of them marks each seen."""
    if not request.user.sees_all_cases:
        raise Http404
    if request.method == "POST":
        marked = services.mark_seen(request.user, [int(v) for v in request.POST.getlist("change") if v.isdigit()])
        messages.success(request, _("Marked as seen: %(n)d.") % {"n": marked})
        if request.POST.get("domain"):  # marked on the site's page: back there
            return redirect("sites:detail", domain=_site(request.POST["domain"]).domain)
        return redirect("sites:changes")
    page = Paginator(services.unseen_changes(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "sites/changes.html", {"page": page})


@login_required
@require_POST
def resolve(request, domain):
    """Look the site up again (DNS, RDAP, WHOIS, CDN) on the workers."""
    from ..audit.services import log_action
    from .resolution import queue_resolution

    site = _site(domain)
    queue_resolution([site.pk], force=True)
    log_action(request.user, "sites.resolve_request", site, domain=site.domain)
    messages.success(request, _("Lookup queued: the page shows the result once a worker has run it."))
    return redirect("sites:detail", domain=site.domain)


def _pending_dir() -> Path:
    return ensure_dir(Path(settings.DATA_DIR) / "imports")


def _keep_upload(data: bytes) -> str:
    """The checked file waits in the data directory (private) until staff confirm or an hour passes."""
    for old in _pending_dir().glob("*.upload"):
        if old.stat().st_mtime < time.time() - PENDING_SECONDS:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(16)
    write_private(_pending_dir() / f"{token}.upload", data)
    return token


def _pending(request) -> tuple[bytes, str] | None:
    """The file whose report the form showed: its token must be the one this session checked last."""
    token, name = request.session.get("sites_import_token"), request.session.get("sites_import_name", "")
    if not token or request.POST.get("token") != token or not token.replace("-", "").replace("_", "").isalnum():
        return None
    path = _pending_dir() / f"{token}.upload"
    if not path.exists():
        return None
    return path.read_bytes(), name


@login_required
def import_list(request):
    form, report = ImportForm(), None
    if request.method == "POST" and request.POST.get("confirm"):
        pending = _pending(request)
        if pending is None:
            messages.error(request, _("The checked file has expired or was replaced; upload it again."))
            return redirect("sites:import")
        try:
            report = services.import_file(request.user, pending[0], pending[1], dry_run=False)
        except UserError as error:
            messages.error(request, str(error))
            return redirect("sites:import")
        (_pending_dir() / f"{request.session.pop('sites_import_token')}.upload").unlink(missing_ok=True)
    elif request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_IMPORT:
                messages.error(request, _("The file is larger than 200 MB."))
            else:
                data = upload.read()
                try:
                    report = services.import_file(request.user, data, upload.name, dry_run=True)
                    request.session["sites_import_token"] = _keep_upload(data)
                    request.session["sites_import_name"] = upload.name[-120:]
                except UserError as error:
                    messages.error(request, f"{upload.name[-80:]}: {error}")
    context = {"form": form, "report": report, "export_form": ExportForm(), "can_apply": request.user.sees_all_cases}
    return render(request, "sites/import.html", context)


@login_required
def export_list(request):
    form = ExportForm(request.GET)
    if not form.is_valid():
        raise Http404
    data = form.cleaned_data
    body = services.export_file(request.user, data["format"], data["language"], requests=data["what"] == "requests")
    kinds = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv"}
    response = HttpResponse(body, content_type=kinds[data["format"]])
    response["Content-Disposition"] = f'attachment; filename="kesu-{data["what"]}.{data["format"]}"'
    return response
