"""Organiser pages of a contest: /manage/activities/<id>/contest/...

Every view is ``@role_required(Role.ORGANISER)`` and loads the activity with
``access.load_activity`` / ``access.load_managed_contest`` (404 missing, 403 out of scope), then calls one service.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from ..access import check_action_form, current_actor, flash_error, load_activity, load_managed_contest
from ..accounts.models import Role
from ..core.errors import Conflict, NotFound, ValidationFailed
from ..core.input import bounded_int
from ..core.permissions import role_required
from ..core.timeutil import local_to_utc, utc_to_local
from . import services
from .forms import (
    AdvanceForm, AssignForm, AwardForm, CriterionForm, JudgeForm, OpenRoundForm, PublishForm, RoundForm,
    SettingsForm, TierForm, apply_errors,
)
from .models import ContestFormat
from .rules import DEFAULT_JURY_WEIGHT

bp = Blueprint("contest_manage", __name__, url_prefix="/manage/activities/<int:activity_id>/contest")


def _back(endpoint: str, activity_id: int, **values):
    return redirect(url_for(endpoint, activity_id=activity_id, **values))


# --------------------------------------------------------------------------- overview and settings

@bp.route("", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def overview(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    contest = services.contest_for_activity(activity.id)
    if contest is not None and request.method == "GET":
        form = SettingsForm(data={
            "format": contest.format.value, "entry_limit": contest.entry_limit,
            "public_vote": contest.public_vote, "jury_weight": contest.jury_weight,
            "vote_opens_at": utc_to_local(contest.vote_opens_at) if contest.vote_opens_at else None,
            "vote_closes_at": utc_to_local(contest.vote_closes_at) if contest.vote_closes_at else None,
            "normalise_judges": contest.normalise_judges})
    elif request.method == "GET":
        form = SettingsForm(data={"format": ContestFormat.PHOTO.value,
                                  "entry_limit": services.DEFAULT_PHOTO_ENTRY_LIMIT,
                                  "jury_weight": DEFAULT_JURY_WEIGHT})
    else:
        form = SettingsForm()
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        settings = services.ContestSettings(
            format=ContestFormat(form.format.data), entry_limit=form.entry_limit.data,
            public_vote=form.public_vote.data,
            vote_opens_at=local_to_utc(form.vote_opens_at.data) if form.vote_opens_at.data else None,
            vote_closes_at=local_to_utc(form.vote_closes_at.data) if form.vote_closes_at.data else None,
            jury_weight=form.jury_weight.data, normalise_judges=form.normalise_judges.data)
        try:
            services.setup_contest(current_actor(), activity.id, settings)
        except ValidationFailed as error:
            problems = apply_errors(form, error.errors)
            status = 422
        except Conflict as error:
            problems = [str(error.message)]
            status = 409
        else:
            flash(_("The contest settings are saved."), "success")
            return _back(".overview", activity.id)
    elif form.is_submitted():
        status = 422
    entries = services.contest_entries(contest) if contest else []
    return render_template("contests/manage/overview.html", activity=activity, contest=contest, form=form,
                           problems=problems, entries=entries), status


@bp.route("/export.xlsx")
@role_required(Role.ORGANISER)
def export(activity_id: int):
    activity, contest = load_managed_contest(activity_id)
    response = make_response(services.export_scores(contest))
    response.headers["Content-Type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.headers["Content-Disposition"] = f"attachment; filename=contest-{activity.id}-scores.xlsx"
    response.headers["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- rounds and criteria

@bp.route("/rounds", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def rounds(activity_id: int):
    activity, contest = load_managed_contest(activity_id)
    round_form = RoundForm(prefix="round")
    criterion_form = CriterionForm(prefix="criterion")
    status = 200
    if round_form.submit.data and round_form.validate_on_submit():
        try:
            services.add_round(current_actor(), contest.id, round_form.name.data, round_form.scored.data)
        except ValidationFailed as error:
            apply_errors(round_form, error.errors)
            status = 422
        else:
            flash(_("The round is added."), "success")
            return _back(".rounds", activity.id)
    elif criterion_form.submit.data and criterion_form.validate_on_submit():
        try:
            services.add_criterion(current_actor(), contest.id, criterion_form.name.data, criterion_form.weight.data,
                                   criterion_form.max_score.data)
        except ValidationFailed as error:
            apply_errors(criterion_form, error.errors)
            status = 422
        else:
            flash(_("The criterion is added."), "success")
            return _back(".rounds", activity.id)
    elif request.method == "POST":
        status = 422
    return render_template("contests/manage/rounds.html", activity=activity, contest=contest,
                           round_form=round_form, criterion_form=criterion_form,
                           submissions_open=not services.entries_locked(contest)), status


def _contest_action(activity_id: int, back: str, done: str, service, *ids, refusals=(Conflict,)):
    """A POST button on a contest page: ``service(actor, contest_id, *ids)``; a refusal is flashed,
    success says ``done``; back to the ``back`` page either way."""
    activity, contest = load_managed_contest(activity_id)
    check_action_form()
    try:
        service(current_actor(), contest.id, *ids)
    except refusals as error:
        flash_error(error)
    else:
        flash(done, "success")
    return _back(back, activity.id)


def _round_action(activity_id: int, round_id: int, service, done: str):
    return _contest_action(activity_id, ".rounds", done, service, round_id, refusals=(Conflict, NotFound))


@bp.route("/rounds/<int:round_id>/open", methods=["POST"])
@role_required(Role.ORGANISER)
def open_round(activity_id: int, round_id: int):
    activity, contest = load_managed_contest(activity_id)
    form = OpenRoundForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.open_round(current_actor(), contest.id, round_id, override_reason=form.reason.data)
    except (Conflict, NotFound, ValidationFailed) as error:
        flash_error(error)
    else:
        flash(_("The round is open for judging."), "success")
    return _back(".rounds", activity.id)


@bp.route("/rounds/<int:round_id>/close", methods=["POST"])
@role_required(Role.ORGANISER)
def close_round(activity_id: int, round_id: int):
    return _round_action(activity_id, round_id, services.close_round, _("The round is closed."))


@bp.route("/rounds/<int:round_id>/delete", methods=["POST"])
@role_required(Role.ORGANISER)
def delete_round(activity_id: int, round_id: int):
    return _round_action(activity_id, round_id, services.delete_round, _("The round is removed."))


@bp.route("/criteria/<int:criterion_id>/delete", methods=["POST"])
@role_required(Role.ORGANISER)
def delete_criterion(activity_id: int, criterion_id: int):
    return _contest_action(activity_id, ".rounds", _("The criterion is removed."), services.delete_criterion,
                           criterion_id)


# --------------------------------------------------------------------------- judges

@bp.route("/judges", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def judges(activity_id: int):
    activity, contest = load_managed_contest(activity_id)
    form = JudgeForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.add_judge(current_actor(), contest.id, form.mobile.data)
        except ValidationFailed as error:
            apply_errors(form, error.errors)
            status = 422
        else:
            flash(_("The judge is on the panel."), "success")
            return _back(".judges", activity.id)
    elif form.is_submitted():
        status = 422
    panel = services.judges(contest)
    codes = {e.id: e.code for e in services.contest_entries(contest)}
    return render_template("contests/manage/judges.html", activity=activity, contest=contest, form=form,
                           panel=panel, codes=codes, assign_form=AssignForm()), status


@bp.route("/judges/<int:judge_id>/assign", methods=["POST"])
@role_required(Role.ORGANISER)
def assign(activity_id: int, judge_id: int):
    activity, contest = load_managed_contest(activity_id)
    form = AssignForm()
    if not form.validate_on_submit():
        abort(400)
    codes = (form.codes.data or "").replace(",", " ").replace("，", " ").split()
    try:
        count = services.assign_entries(current_actor(), contest.id, judge_id, codes)
    except ValidationFailed as error:
        flash_error(error)
    else:
        flash(_("The judge scores %(n)d chosen entries.", n=count) if count else
              _("The judge scores every entry."), "success")
    return _back(".judges", activity.id)


@bp.route("/judges/<int:judge_id>/remove", methods=["POST"])
@role_required(Role.ORGANISER)
def remove_judge(activity_id: int, judge_id: int):
    activity, contest = load_managed_contest(activity_id)
    check_action_form()
    services.remove_judge(current_actor(), contest.id, judge_id)
    flash(_("The judge is off the panel."), "success")
    return _back(".judges", activity.id)


# --------------------------------------------------------------------------- results and advancement

@bp.route("/rounds/<int:round_id>/results", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def round_results(activity_id: int, round_id: int):
    activity, contest = load_managed_contest(activity_id)
    round_ = services.get_round(contest, round_id)
    form = AdvanceForm()
    tie = None
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        top_n, threshold = None, None
        if form.rule.data == "threshold":
            try:
                threshold = float((form.threshold.data or "").replace(",", "."))
            except ValueError:
                form.threshold.errors = [str(services.MSG_THRESHOLD)]
        else:
            top_n = form.top_n.data
            if top_n is None:
                form.top_n.errors = [_("Please enter a whole number of at least 1.")]
        if not (form.threshold.errors or form.top_n.errors):
            picks = [pick for pick in request.form.getlist("pick", type=bounded_int) if pick > 0]
            try:
                chosen = services.advance(current_actor(), contest.id, round_.id, top_n=top_n, threshold=threshold,
                                          picks=picks)
            except services.TieAtCut as error:
                tie = error.cut
                problems = [str(error.message)]
                status = 409
            except ValidationFailed as error:
                problems = apply_errors(form, error.errors)
                status = 422
            except Conflict as error:
                problems = [str(error.message)]
                status = 409
            else:
                flash(_("%(n)d entries advance to the next round.", n=len(chosen)), "success")
                return _back(".round_results", activity.id, round_id=round_.id)
        else:
            status = 422
    elif form.is_submitted():
        status = 422
    result = services.round_results(contest, round_)
    tied_rows = [row for row in result.rows if tie and row.entry.id in tie.tied]
    return render_template("contests/manage/round_results.html", activity=activity, contest=contest,
                           result=result, form=form, tie=tie, tied_rows=tied_rows, problems=problems), status


# --------------------------------------------------------------------------- awards

@bp.route("/awards", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def awards(activity_id: int):
    activity, contest = load_managed_contest(activity_id)
    form = TierForm(prefix="tier")
    status = 200
    if form.validate_on_submit():
        tier_id = request.form.get("tier_id", type=bounded_int)
        try:
            services.save_tier(current_actor(), contest.id, tier_id, form.name.data, form.quota.data,
                               float(form.min_score.data) if form.min_score.data is not None else None)
        except ValidationFailed as error:
            apply_errors(form, error.errors)
            status = 422
        except (Conflict, NotFound) as error:
            flash_error(error)
            return _back(".awards", activity.id)
        else:
            flash(_("The award is saved."), "success")
            return _back(".awards", activity.id)
    elif form.is_submitted():
        status = 422
    round_, ranked, scores = services.final_ranking(contest)
    held = {a.entry_id: a for a in services.awards(contest)}
    entries = {e.id: e for e in services.contest_entries(contest)}
    return render_template("contests/manage/awards.html", activity=activity, contest=contest, form=form,
                           ranking_round=round_, ranked=ranked, scores=scores, held=held, entries=entries,
                           tier_choices=[("", _("No award"))] + [(str(t.id), t.name) for t in contest.tiers],
                           ties=request.args.getlist("tie", type=bounded_int)), status


@bp.route("/awards/tiers/<int:tier_id>/delete", methods=["POST"])
@role_required(Role.ORGANISER)
def delete_tier(activity_id: int, tier_id: int):
    return _contest_action(activity_id, ".awards", _("The award is removed."), services.delete_tier, tier_id)


@bp.route("/awards/allocate", methods=["POST"])
@role_required(Role.ORGANISER)
def allocate(activity_id: int):
    activity, contest = load_managed_contest(activity_id)
    check_action_form()
    try:
        allocation = services.allocate(current_actor(), contest.id)
    except Conflict as error:
        flash_error(error)
        return _back(".awards", activity.id)
    flash(_("%(n)d awards are assigned by rank.", n=len(allocation.awards)), "success")
    tied = [entry_id for tie in allocation.ties for entry_id in tie.entry_ids]
    if tied:
        flash(_("Some entries are tied where an award's places ran out; those places are left free. "
                "Award them by hand if the jury decides so."), "warning")
    return _back(".awards", activity.id, tie=tied)


@bp.route("/awards/entries/<int:entry_id>", methods=["POST"])
@role_required(Role.ORGANISER)
def set_award(activity_id: int, entry_id: int):
    activity, contest = load_managed_contest(activity_id)
    form = AwardForm()
    form.tier_id.choices = [SelectChoice("", "")] + [SelectChoice(str(t.id), t.name) for t in contest.tiers]
    if not form.validate_on_submit():
        abort(400)
    try:
        tier_id = int(form.tier_id.data) if form.tier_id.data else None
        services.set_award(current_actor(), contest.id, entry_id, tier_id)
    except (Conflict, NotFound) as error:
        flash_error(error)
    else:
        flash(_("The award is changed."), "success")
    return _back(".awards", activity.id)


@bp.route("/results/publish", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def publish(activity_id: int):
    """The summary an organiser checks (entries, rounds, tiers, who gets what), then confirms."""
    activity, contest = load_managed_contest(activity_id)
    form = PublishForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.publish_results(current_actor(), contest.id)
        except Conflict as error:
            flash_error(error)
            status = 409
        else:
            flash(_("The results are published."), "success")
            return _back(".awards", activity.id)
    elif form.is_submitted():
        status = 422
    return render_template("contests/manage/publish.html", activity=activity, contest=contest, form=form,
                           summary=services.publish_summary(contest)), status


@bp.route("/results/unpublish", methods=["POST"])
@role_required(Role.ORGANISER)
def unpublish(activity_id: int):
    activity, contest = load_managed_contest(activity_id)
    check_action_form()
    services.unpublish_results(current_actor(), contest.id)
    flash(_("The results are no longer public."), "success")
    return _back(".awards", activity.id)
