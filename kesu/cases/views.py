"""Staff pages for cases. Each view checks access through the services
(outsiders get 404) and leaves the work to them."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..audit.services import log_action
from ..lib.errors import NotFound, UserError
from ..lib.web import BLUR_LEVELS, blur_of, first_look, private, revealed, unplayable
from . import references, services, timeline
from .forms import CaseCreateForm, CaseEditForm, ContactForm, ReferenceTextForm, VictimForm
from .models import Case, CaseType


def case_or_404(request, case_id) -> Case:
    """The case if this user may see it, else 404 (the notices views use it too)."""
    try:
        return services.case_for(request.user, case_id)
    except NotFound:
        raise Http404 from None


@login_required
def case_list(request):
    status, case_type, query = request.GET.get("status"), request.GET.get("type"), request.GET.get("q", "")
    cases = services.case_rows(request.user, status, case_type, query)
    page = Paginator(cases, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "statuses": Case.Status.choices,
        "types": CaseType.choices,
        "status": status,
        "type": case_type,
        "q": query,
        "due_count": services.continuation_due(request.user).count(),
    }
    return render(request, "cases/list.html", context)


@login_required
def case_create(request):
    form = CaseCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        assignees = list(data.get("assignees") or [])
        if not request.user.sees_all_cases:
            assignees = [request.user]
        case = services.create_case(
            request.user,
            data["case_type"],
            details=form.details(),
            language=data["language"],
            receipt=data["receipt"],
            is_minor=data["is_minor"],
            assignees=assignees,
            mandate_signed_on=data["mandate_signed_on"],
            consent=data["consent"],
        )
        messages.success(request, _("Case created."))
        return redirect("cases:detail", case_id=case.pk)
    return render(request, "cases/create.html", {"form": form})


@login_required
def case_detail(request, case_id):
    """Header facts, what is due and the actions, one timeline, then the case's sections.

    Contact notes are not opened here (they open on a deliberate click, audited); the timeline names
    contacts by direction, channel and staff only.
    """
    case = case_or_404(request, case_id)
    items = list(case.references.select_related("preview").prefetch_related("signals"))
    labelled = [(item, references.label(case, item)) for item in items]
    log_action(request.user, "case.view", case, case_id=case.pk)
    kinds = timeline.parse_kinds(request.GET.getlist("kinds"))
    actions = timeline.due_actions(case, request.user)
    context = {
        "case": case,
        "references": labelled,
        "deleted_references": references.pending(case),
        "contacts": case.contacts.all(),
        "contact_form": ContactForm(),
        "text_form": ReferenceTextForm(),
        "history": services.case_history(case)[:50],
        "max_upload_mb": settings.KESU_MAX_UPLOAD_MB,
        **timeline.sections(case),  # the other apps' sections: evidence, notices
        "next_action": actions[0] if actions else None,
        "other_actions": actions[1:],
        "removal_hits": ",".join(str(pk) for pk in timeline.removal_hit_ids(case)),
        "events": timeline.events(case, kinds=kinds),
        "kinds": list(timeline.KINDS.items()),
        "chosen_kinds": kinds,
    }
    return private(render(request, "cases/detail.html", context))  # hosts and evidence URLs: never cached


@login_required
@require_POST
def contact_notes(request, case_id):
    """What was said in each contact with her: opened only on a deliberate click (POST), audited."""
    case = case_or_404(request, case_id)
    return private(
        render(request, "cases/contacts.html", {"case": case, "contacts": services.contact_notes(request.user, case)})
    )


@login_required
def case_close(request, case_id):
    """Close the case after a confirmation that lists the notices still open."""
    case = case_or_404(request, case_id)
    still_open = timeline.open_notices(case)
    if request.method == "POST" and request.POST.get("confirm") == str(case.pk):
        try:
            timeline.close_case(request.user, case, despite_open=request.POST.get("despite_open") == "1")
        except UserError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("The case was closed."))
            return redirect("cases:detail", case_id=case.pk)
    return render(request, "cases/close.html", {"case": case, "open_notices": still_open})


@login_required
def case_edit(request, case_id):
    case = case_or_404(request, case_id)
    initial = {"status": case.status, "consent": case.consent, "assignees": case.assignees.all()}
    form = CaseEditForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["status"] != case.status:
            services.set_status(request.user, case, data["status"])
        if sorted(data["consent"]) != sorted(case.consent):
            services.record_consent(request.user, case, data["consent"])
        if "assignees" in data and set(data["assignees"]) != set(case.assignees.all()):
            services.set_assignees(request.user, case, data["assignees"])
        messages.success(request, _("Case updated."))
        return redirect("cases:detail", case_id=case.pk)
    return render(request, "cases/edit.html", {"case": case, "form": form})


@login_required
def victim_reveal(request, case_id):
    """Her name and contact data: shown only after a deliberate click (POST), audited."""
    case = case_or_404(request, case_id)
    if request.method != "POST":
        return redirect("cases:detail", case_id=case.pk)
    form = VictimForm(request.POST if "save" in request.POST else None)
    if "save" in request.POST and form.is_valid():
        services.update_victim(request.user, case, form.details())
        messages.success(request, _("Her details were saved."))
        return redirect("cases:detail", case_id=case.pk)
    if "save" not in request.POST:
        details = services.victim_details(request.user, case)
        form = VictimForm(initial={"name": details.name, **details.contact})
    return private(render(request, "cases/victim.html", {"case": case, "form": form}))


@login_required
@require_POST
def contact_add(request, case_id):
    case = case_or_404(request, case_id)
    form = ContactForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        services.add_contact(request.user, case, data["direction"], data["channel"], data["note"])
        messages.success(request, _("Contact logged."))
    else:
        messages.error(request, _("The contact could not be logged: check the fields."))
    return redirect("cases:detail", case_id=case.pk)


@login_required
def continuation_list(request):
    return render(request, "cases/due.html", {"cases": services.continuation_due(request.user)})


@login_required
@require_POST
def continuation(request, case_id):
    case = case_or_404(request, case_id)
    services.record_continuation(request.user, case, request.POST.get("answer") == "continue")
    messages.success(request, _("Her answer was recorded."))
    return redirect("cases:detail", case_id=case.pk)


@login_required
def case_delete(request, case_id):
    case = case_or_404(request, case_id)
    if not request.user.sees_all_cases:
        raise Http404
    if request.method == "POST" and request.POST.get("confirm") == str(case.pk):
        services.delete_case(request.user, case)
        messages.success(request, _("The case was deleted and its key destroyed."))
        return redirect("cases:list")
    return render(request, "cases/delete.html", {"case": case})


@login_required
@require_POST
def reference_upload(request, case_id):
    case = case_or_404(request, case_id)
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    limit = settings.KESU_MAX_UPLOAD_MB * 1024 * 1024
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
        error = _("The upload is larger than %(mb)s MB.") % {"mb": settings.KESU_MAX_UPLOAD_MB}
        return JsonResponse({"error": error}, status=413) if wants_json else _upload_done(request, case, [], error)
    kind = request.POST.get("kind") or None
    files = [(f.name, f.read()) for f in request.FILES.getlist("files")]
    try:
        results = references.add_files(request.user, case, files, kind if kind == "face" else None)
    except UserError as exc:
        results, error = [], str(exc)
    else:
        error = "" if files else _("Choose at least one file.")
    if wants_json:
        rows = [{"name": r.name, "id": r.item.pk if r.item else None, "error": r.error} for r in results]
        return JsonResponse({"results": rows, "error": error}, status=400 if error else 200)
    return _upload_done(request, case, results, error)


def _upload_done(request, case, results, error):
    for r in results:
        if r.error:
            messages.error(request, f"{r.name}: {r.error}")
    added = sum(1 for r in results if r.item)
    if added:
        messages.success(request, _("%(n)d reference(s) added.") % {"n": added})
    if error:
        messages.error(request, error)
    return redirect("cases:detail", case_id=case.pk)


@login_required
@require_POST
def reference_text(request, case_id):
    case = case_or_404(request, case_id)
    form = ReferenceTextForm(request.POST)
    if form.is_valid():
        try:
            references.add_text(request.user, case, form.cleaned_data["kind"], form.cleaned_data["text"])
            messages.success(request, _("Reference added."))
        except UserError as exc:
            messages.error(request, str(exc))
    else:
        messages.error(request, _("Give a URL or a keyword."))
    return redirect("cases:detail", case_id=case.pk)


def _reference(request, case_id, ref_id):
    case = case_or_404(request, case_id)
    try:
        return case, references.reference_for(case, ref_id)
    except NotFound:
        raise Http404 from None


@login_required
def reference_preview(request, case_id, ref_id):
    case, item = _reference(request, case_id, ref_id)
    try:
        jpeg = references.preview(request.user, case, item, BLUR_LEVELS[blur_of(request.session)])
    except NotFound:
        raise Http404 from None
    return private(HttpResponse(jpeg, content_type="image/jpeg"))


@login_required
def reference_media(request, case_id, ref_id):
    """The unblurred medium: fetched only when the user clicks to reveal it."""
    case, item = _reference(request, case_id, ref_id)
    range_header = request.headers.get("Range", "")
    try:
        data, content_type = references.reveal(request.user, case, item, first=first_look(range_header))
    except NotFound:
        raise Http404 from None
    except UserError:
        return unplayable()
    return revealed(data, content_type, range_header)


@login_required
def reference_delete(request, case_id, ref_id):
    """A confirmation naming the reference (its label, never its picture); the POST takes it out of use, and the
    case page offers to undo that for KESU_REFERENCE_UNDO_MINUTES."""
    case, item = _reference(request, case_id, ref_id)
    if request.method == "POST" and request.POST.get("confirm") == str(item.pk):
        references.delete(request.user, case, item)
        messages.success(request, _("Reference deleted. You can undo this on the case page for a few minutes."))
        return redirect("cases:detail", case_id=case.pk)
    log_action(request.user, "case.view", case, case_id=case.pk, reference=item.pk)  # the label is hers
    context = {"case": case, "item": item, "label": references.label(case, item),
               "undo_minutes": settings.KESU_REFERENCE_UNDO_MINUTES}  # fmt: skip
    return private(render(request, "cases/reference_delete.html", context))


@login_required
@require_POST
def reference_restore(request, case_id, ref_id):
    case = case_or_404(request, case_id)
    try:
        references.restore(request.user, case, references.pending_for(case, ref_id))
    except NotFound:
        raise Http404 from None
    except UserError:
        messages.error(request, _("Too late to undo: the reference is being shredded."))
    else:
        messages.success(request, _("The reference is back."))
    return redirect("cases:detail", case_id=case.pk)
