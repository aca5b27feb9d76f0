"""Contest pages for entrants, voters, the public and judges.

Judges' pages show entry codes, titles, descriptions and photos only: the templates receive
``services.BlindEntry`` objects, which carry no user, name, union or mobile at all.
"""
from __future__ import annotations

from flask import (
    Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, send_file, url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from ..access import check_action_form, current_actor, load_visible_contest
from ..accounts.forms import EmptyForm
from ..accounts.models import Role
from ..core.errors import Conflict, NotAllowed, ValidationFailed
from ..core.permissions import login_required, public, role_required
from ..core.timeutil import now
from ..extensions import login_manager
from . import certificates, images, media, services
from .forms import PerformanceEntryForm, PhotoEntryForm, ScoreForm, apply_errors

bp = Blueprint("contests", __name__)


@bp.record_once
def _pixel_guard(state):
    """Pillow's own decompression-bomb limit follows our pixel cap (checked again per upload)."""
    from PIL import Image

    limit = state.app.config.get("CONTEST_MAX_IMAGE_PIXELS") or images.DEFAULT_MAX_PIXELS
    Image.MAX_IMAGE_PIXELS = int(limit)


#: The pages that take an entry's files: a larger request than elsewhere (a video), see contests/media.py.
UPLOAD_ENDPOINTS = {"contests.enter", "contests.edit_entry"}


@bp.url_value_preprocessor
def _entry_upload_limit(endpoint, _values):
    """Runs before every before_request hook (CSRF and the input guard read the body)."""
    if endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = int(current_app.config.get("CONTEST_MAX_ENTRY_REQUEST_BYTES")
                                         or current_app.config["MAX_CONTENT_LENGTH"])


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error):
    """An upload over the request limit: the entry form again with a clear message, never a bare 413."""
    message = media.too_large_message()
    args = request.view_args or {}
    if request.endpoint in UPLOAD_ENDPOINTS and not current_user.is_authenticated:
        # The body is refused before login_required ran: answer as to any anonymous request.
        return login_manager.unauthorized()
    if request.endpoint == "contests.enter":
        activity, found = load_visible_contest(args["activity_id"])
        form, entry = _entry_form(found, blank=True), None
    elif request.endpoint == "contests.edit_entry":
        entry = services.get_own_entry(current_actor(), args["entry_id"])
        found, activity = entry.contest, entry.contest.activity
        form = _entry_form(found, entry, blank=True)
    else:
        return render_template("errors/error.html", status=413, message=message), 413
    return render_template("contests/entry_form.html", activity=activity, contest=found, form=form,
                           problems=[message], entry=entry, locked=services.entries_locked(found)), 413


def _entry_form(contest, entry=None, blank=False):
    form_class = PhotoEntryForm if contest.is_photo else PerformanceEntryForm
    if entry is not None and (request.method == "GET" or blank):
        data = {"title": entry.title, "description": entry.description,
                "consent_publish_name": entry.consent_publish_name}
        if not contest.is_photo:
            data.update(category=entry.category.value if entry.category else None,
                        team_leader=entry.team_leader,
                        members=services.performers_text(entry) or entry.members)
        return form_class(formdata=None, data=data) if blank else form_class(data=data)
    return form_class(formdata=None) if blank else form_class()


def _entry_data(form) -> services.EntryData:
    return services.EntryData(
        title=form.title.data or "", description=form.description.data or "",
        category=getattr(form, "category", None) and form.category.data,
        team_leader=(form.team_leader.data or "") if hasattr(form, "team_leader") else "",
        members=(form.members.data or "") if hasattr(form, "members") else "",
        consent_publish_name=bool(form.consent_publish_name.data))


def _uploads() -> list[services.Upload]:
    return [services.Upload(stream=f.stream, filename=f.filename or "")
            for f in request.files.getlist("photos")]


def _recording() -> services.Upload | None:
    found = request.files.get("recording")
    return services.Upload(stream=found.stream, filename=found.filename or "") if found else None


# --------------------------------------------------------------------------- public

@bp.route("/contests/<int:activity_id>")
@public
def contest(activity_id: int):
    activity, found = load_visible_contest(activity_id)
    user = current_actor()
    mine = services.my_entries(user, found) if user else []
    return render_template("contests/contest.html", activity=activity, contest=found, entries=mine,
                           locked=services.entries_locked(found), vote_open=found.vote_is_open(now()))


@bp.route("/contests/<int:activity_id>/results")
@public
def results(activity_id: int):
    activity, found = load_visible_contest(activity_id)
    groups: dict[str, list] = {}
    for winner in services.published_awards(found):
        groups.setdefault(winner.tier_name, []).append(winner)
    return render_template("contests/results.html", activity=activity, contest=found, groups=groups)


@bp.route("/contests/images/<int:image_id>")
@public
def image(image_id: int):
    return _send_image(image_id, thumb=False)


@bp.route("/contests/images/<int:image_id>/thumb")
@public
def thumbnail(image_id: int):
    return _send_image(image_id, thumb=True)


def _send_image(image_id: int, thumb: bool):
    found = services.image_for(current_actor(), image_id)
    name = found.thumb_name if thumb else found.stored_name
    content_type = "image/jpeg" if thumb else found.content_type
    if content_type not in images.CONTENT_TYPES:
        abort(404)
    try:
        path = images.path_of(name)
        response = send_file(path, mimetype=content_type, conditional=True, max_age=0)
    except FileNotFoundError:
        abort(404)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Content-Disposition"] = "inline"
    # An entry's photo is shown to its entrant, organisers, judges and (while voting) voters only:
    # personal, so never stored (R12), like every other answer with personal information.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/contests/entries/<int:entry_id>/recording")
@login_required
def recording(entry_id: int):
    """A performance's recording, for its entrant, the contest's organisers and its judges only."""
    found = services.recording_for(current_actor(), entry_id)
    if found.media_type not in media.MEDIA_TYPES:
        abort(404)
    try:
        response = send_file(media.path_of(found.media_name or ""), mimetype=found.media_type,
                             conditional=True, max_age=0)  # conditional: Range requests, for seeking
    except FileNotFoundError:
        abort(404)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "private, no-store"  # personal, like the photos (R12)
    return response


# --------------------------------------------------------------------------- entrants

@bp.route("/contests/<int:activity_id>/enter", methods=["GET", "POST"])
@login_required
def enter(activity_id: int):
    activity, found = load_visible_contest(activity_id)
    if request.method == "GET" and not services.entries_locked(found) \
            and not services.has_signed_up(current_actor(), activity.id):
        # One flow: sign up first (eligibility, questions, approval); a place leads straight back here.
        flash(_("Please sign up for the contest first; then you go straight on to your entry."), "info")
        return redirect(url_for("registrations.signup", activity_id=activity.id))
    form = _entry_form(found)
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        try:
            entry = services.submit_entry(current_actor(), activity.id, _entry_data(form), _uploads(),
                                          _recording())
        except ValidationFailed as error:
            problems = apply_errors(form, error.errors)
            status = 422
        except (NotAllowed, Conflict) as error:
            problems = [str(error.message)]
            status = error.http_status
        else:
            flash(_("Your entry %(code)s is submitted. You can change it until the deadline.",
                    code=entry.code), "success")
            return redirect(url_for(".entry", entry_id=entry.id))
    elif form.is_submitted():
        status = 422
    return render_template("contests/entry_form.html", activity=activity, contest=found, form=form,
                           problems=problems, entry=None, locked=services.entries_locked(found)), status


@bp.route("/me/entries")
@login_required
def my_entries():
    entries = services.all_my_entries(current_actor())
    return render_template("contests/mine.html", entries=entries, progress=services.entries_progress(entries))


@bp.route("/me/entries/<int:entry_id>")
@login_required
def entry(entry_id: int):
    found = services.get_own_entry(current_actor(), entry_id)
    return render_template("contests/entry.html", entry=found, contest=found.contest,
                           activity=found.contest.activity, outcome=services.entry_outcome(found),
                           progress=services.entry_progress(found),
                           locked=services.entries_locked(found.contest), action_form=EmptyForm())


@bp.route("/me/entries/<int:entry_id>/edit", methods=["GET", "POST"])
@login_required
def edit_entry(entry_id: int):
    found = services.get_own_entry(current_actor(), entry_id)
    form = _entry_form(found.contest, found)
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        try:
            services.update_entry(current_actor(), found.id, _entry_data(form), _uploads(), _recording())
        except ValidationFailed as error:
            problems = apply_errors(form, error.errors)
            status = 422
        except (NotAllowed, Conflict) as error:
            problems = [str(error.message)]
            status = error.http_status
        else:
            flash(_("Your entry is saved."), "success")
            return redirect(url_for(".entry", entry_id=found.id))
    elif form.is_submitted():
        status = 422
    return render_template("contests/entry_form.html", activity=found.contest.activity, contest=found.contest,
                           form=form, problems=problems, entry=found,
                           locked=services.entries_locked(found.contest)), status


@bp.route("/me/entries/<int:entry_id>/withdraw", methods=["POST"])
@login_required
def withdraw(entry_id: int):
    check_action_form()
    try:
        activity_id = services.withdraw_entry(current_actor(), entry_id)
    except Conflict as error:
        flash(str(error.message), "error")
        return redirect(url_for(".entry", entry_id=entry_id))
    flash(_("Your entry is withdrawn."), "success")
    return redirect(url_for(".contest", activity_id=activity_id))


@bp.route("/me/entries/<int:entry_id>/certificate")
@login_required
def certificate(entry_id: int):
    found = services.certificate_for(current_actor(), entry_id)
    return render_template("contests/certificate.html", entry=found, contest=found.contest,
                           activity=found.contest.activity, name=found.user.name)


def _certificate_file(entry_id: int, kind: str):
    found = services.certificate_for(current_actor(), entry_id)
    cert = certificates.certificate_of(found.award)
    check_url = url_for(".check_certificate", code=cert.verify_code or "-", _external=True)
    body = certificates.pdf(cert, check_url) if kind == "pdf" else certificates.png(cert, check_url)
    response = make_response(body)
    response.mimetype = "application/pdf" if kind == "pdf" else "image/png"
    response.headers["Content-Disposition"] = f'attachment; filename="certificate-{found.code}.{kind}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/me/entries/<int:entry_id>/certificate.pdf")
@login_required
def certificate_pdf(entry_id: int):
    """The certificate as a printable A4 PDF (WeChat's browser cannot print the HTML page)."""
    return _certificate_file(entry_id, "pdf")


@bp.route("/me/entries/<int:entry_id>/certificate.png")
@login_required
def certificate_png(entry_id: int):
    """The certificate as a picture to keep on a phone."""
    return _certificate_file(entry_id, "png")


@bp.route("/certificates/<code>")
@public
def check_certificate(code: str):
    """Anyone who scans a certificate's QR code sees whether it is real (the winner's name masked)."""
    return render_template("contests/check.html", cert=certificates.check(code[:32]))


# --------------------------------------------------------------------------- public vote

@bp.route("/contests/<int:activity_id>/vote")
@login_required
def gallery(activity_id: int):
    activity, found = load_visible_contest(activity_id)
    if not found.public_vote:
        abort(404)
    return render_template("contests/vote.html", activity=activity, contest=found,
                           entries=services.vote_entries(found) if found.vote_is_open(now()) else [],
                           vote_open=found.vote_is_open(now()), voted=services.my_vote_today(current_actor(), found),
                           action_form=EmptyForm())


@bp.route("/contests/<int:activity_id>/vote/<int:entry_id>", methods=["POST"])
@login_required
def vote(activity_id: int, entry_id: int):
    check_action_form()
    try:
        services.cast_vote(current_actor(), activity_id, entry_id)
    except (services.AlreadyVoted, services.VoteClosed) as error:
        flash(str(error.message), "error")
    else:
        flash(_("Thank you: your vote is counted."), "success")
    return redirect(url_for(".gallery", activity_id=activity_id))


# --------------------------------------------------------------------------- judges (blind)

@bp.route("/judge")
@role_required(Role.JUDGE)
def judge_home():
    return render_template("contests/judge_home.html", rounds=services.judge_rounds(current_actor()))


@bp.route("/judge/rounds/<int:round_id>")
@role_required(Role.JUDGE)
def judge_round(round_id: int):
    round_ = services.judge_round_for(current_actor(), round_id)
    entries, scored, total = services.blind_entries(current_actor(), round_)
    return render_template("contests/judge_round.html", round=round_, entries=entries, scored=scored,
                           total=total)


@bp.route("/judge/rounds/<int:round_id>/entries/<int:entry_id>", methods=["GET", "POST"])
@role_required(Role.JUDGE)
def judge_entry(round_id: int, entry_id: int):
    judge = current_actor()
    round_ = services.judge_round_for(judge, round_id)
    blind, values = services.score_sheet(judge, round_, entry_id)
    criteria = round_.contest.criteria
    form = ScoreForm()
    errors: dict[str, list[str]] = {}
    problems: list[str] = []
    status = 200
    typed = {c.id: request.form.get(f"c{c.id}", "") for c in criteria} if request.method == "POST" else \
        {c.id: _plain(values.get(c.id)) for c in criteria}
    if form.validate_on_submit():
        try:
            services.save_scores(judge, round_.id, entry_id, {c.id: typed[c.id] for c in criteria})
        except ValidationFailed as error:
            errors = error.errors
            status = 422
        except Conflict as error:
            problems = [str(error.message)]
            status = error.http_status
        else:
            flash(_("Scores for %(code)s are saved.", code=blind.code), "success")
            entries, _scored, _total = services.blind_entries(judge, round_)
            following = next((e for e in entries if not e.scored), None)
            if following is not None:
                return redirect(url_for(".judge_entry", round_id=round_.id, entry_id=following.id))
            return redirect(url_for(".judge_round", round_id=round_.id))
    elif form.is_submitted():
        status = 422
    entries, scored, total = services.blind_entries(judge, round_)
    return render_template("contests/judge_entry.html", round=round_, entry=blind, criteria=criteria,
                           typed=typed, errors=errors, problems=problems, form=form, scored=scored,
                           total=total), status


def _plain(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)
