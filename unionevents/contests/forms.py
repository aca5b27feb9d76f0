"""Contest forms. They only parse; the services decide, and their field errors land on these fields."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, MultipleFileField
from wtforms import (
    BooleanField, DateTimeLocalField, DecimalField, IntegerField, RadioField, SelectField, StringField, SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..core.forms import REQUIRED_MESSAGE, BaseForm, enum_choices, strip_filter
from .media import ACCEPT as MEDIA_ACCEPT, limit_for
from .models import ContestFormat, PerformanceCategory
from .rules import DEFAULT_JURY_WEIGHT, MEMBER_LIMITS, SCORE_SCALE, WEIGHT_TOTAL
from .services.awards import MAX_QUOTA, TIER_NAME_MAX
from .services.contest import MAX_ENTRY_LIMIT
from .services.entries import DESCRIPTION_MAX, MEMBERS_MAX, NAME_MAX, TITLE_MAX
from .services.judging import CRITERION_NAME_MAX, MAX_CRITERION_SCORE, MAX_CRITERION_WEIGHT, ROUND_NAME_MAX
from .services.ranking import MAX_ADVANCE

CONSENT_LABEL = _l("If my entry wins an award, my name and union may be published with the results.")
CONSENT_HELP = _l("Optional and separate from your entry. Without it the results show “Anonymous”. "
                  "You can change this until the entry deadline.")


def apply_errors(form, errors: dict[str, list[str]], field_map: dict[str, str] | None = None) -> list[str]:
    """Put service errors on the form's fields; returns the ones that fit no field."""
    rest = []
    for key, messages in errors.items():
        name = (field_map or {}).get(key, key)
        if name in form._fields:
            form[name].errors = list(form[name].errors or []) + [str(m) for m in messages]
        else:
            rest.extend(str(m) for m in messages)
    return rest


class PhotoEntryForm(BaseForm):
    title = StringField(_l("Title of the work"), filters=[strip_filter],
                        validators=[InputRequired(REQUIRED_MESSAGE), Length(max=TITLE_MAX)])
    description = TextAreaField(_l("Description"), filters=[strip_filter],
                                validators=[Length(max=DESCRIPTION_MAX)],
                                description=_l("Where and when it was taken, and what it shows."))
    photos = MultipleFileField(_l("Photos"), render_kw={"accept": "image/jpeg,image/png,image/webp"},
                               description=_l("JPEG, PNG or WebP. Location and camera data are removed."))
    consent_publish_name = BooleanField(CONSENT_LABEL, description=CONSENT_HELP)
    submit = SubmitField(_l("Submit the entry"))


class PerformanceEntryForm(BaseForm):
    category = RadioField(_l("Category"), choices=[],
                          validators=[InputRequired(_l("Please choose solo, small group or choir."))])
    title = StringField(_l("Song title"), filters=[strip_filter],
                        validators=[InputRequired(REQUIRED_MESSAGE), Length(max=TITLE_MAX)])
    team_leader = StringField(_l("Team leader (or soloist)"), filters=[strip_filter],
                              validators=[InputRequired(REQUIRED_MESSAGE), Length(max=NAME_MAX)])
    members = TextAreaField(
        _l("Members (name and mobile)"), filters=[strip_filter], validators=[Length(max=MEMBERS_MAX)],
        description=_l("One member per line: name, then mobile number, e.g. “张三 13800001111”. Small group "
                       "%(group_min)d–%(group_max)d members, choir %(choir_min)d–%(choir_max)d; leave empty "
                       "for a solo.", group_min=MEMBER_LIMITS["group"][0], group_max=MEMBER_LIMITS["group"][1],
                       choir_min=MEMBER_LIMITS["choir"][0], choir_max=MEMBER_LIMITS["choir"][1]))
    recording = FileField(_l("Recording (optional)"), render_kw={"accept": MEDIA_ACCEPT})
    description = TextAreaField(_l("Notes for the organiser"), filters=[strip_filter],
                                validators=[Length(max=DESCRIPTION_MAX)])
    consent_publish_name = BooleanField(CONSENT_LABEL, description=CONSENT_HELP)
    submit = SubmitField(_l("Submit the entry"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = enum_choices(PerformanceCategory)
        audio, video = (limit_for(t) // 2 ** 20 for t in ("audio/mpeg", "video/mp4"))
        self.recording.description = _l("Audio (MP3, M4A, AAC, WAV) up to %(audio)d MB or video (MP4, MOV) up to "
                                        "%(video)d MB.", audio=audio, video=video)


class ScoreForm(BaseForm):
    """One text box per criterion is added by the view (``c<criterion id>``); parsing is the service's."""

    submit = SubmitField(_l("Save scores"))


class SettingsForm(BaseForm):
    format = SelectField(_l("Kind of contest"), choices=[])
    entry_limit = IntegerField(_l("Entries per person"), validators=[InputRequired(REQUIRED_MESSAGE),
                                                                   NumberRange(1, MAX_ENTRY_LIMIT)])
    public_vote = BooleanField(_l("Public vote by logged-in workers"))
    vote_opens_at = DateTimeLocalField(_l("Voting opens"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    vote_closes_at = DateTimeLocalField(_l("Voting closes"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    jury_weight = IntegerField(_l("Jury weight (percent)"), default=DEFAULT_JURY_WEIGHT,
                               description=_l("The public vote counts for the rest."),
                               validators=[InputRequired(REQUIRED_MESSAGE), NumberRange(0, WEIGHT_TOTAL)])
    normalise_judges = BooleanField(
        _l("Rank by normalised jury scores (evens out strict and lenient judges)"))
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.format.choices = enum_choices(ContestFormat)


class RoundForm(BaseForm):
    name = StringField(_l("Round name"), filters=[strip_filter],
                       validators=[InputRequired(REQUIRED_MESSAGE), Length(max=ROUND_NAME_MAX)])
    scored = BooleanField(_l("Judges score this round"), default=True)
    submit = SubmitField(_l("Add round"))


class CriterionForm(BaseForm):
    name = StringField(_l("Criterion"), filters=[strip_filter],
                       validators=[InputRequired(REQUIRED_MESSAGE), Length(max=CRITERION_NAME_MAX)])
    weight = IntegerField(_l("Weight"), validators=[InputRequired(REQUIRED_MESSAGE),
                                                     NumberRange(1, MAX_CRITERION_WEIGHT)])
    max_score = IntegerField(_l("Top score"), default=10, description=_l("For example 10 or 100."),
                             validators=[InputRequired(REQUIRED_MESSAGE), NumberRange(1, MAX_CRITERION_SCORE)])
    submit = SubmitField(_l("Add criterion"))


class JudgeForm(BaseForm):
    mobile = StringField(_l("Judge's mobile number"), filters=[strip_filter],
                         validators=[InputRequired(REQUIRED_MESSAGE)], render_kw={"inputmode": "tel"})
    submit = SubmitField(_l("Add judge"))


class AssignForm(BaseForm):
    codes = StringField(_l("Entry codes"), filters=[strip_filter],
                        description=_l("Separated by commas or spaces; leave empty for every entry."))
    submit = SubmitField(_l("Assign"))


class AdvanceForm(BaseForm):
    rule = RadioField(_l("Who advances"), default="top",
                      choices=[SelectChoice("top", _l("The best N entries")),
                               SelectChoice("threshold", _l("All entries scoring at least"))])
    top_n = IntegerField(_l("Number of entries"), validators=[Optional(), NumberRange(1, MAX_ADVANCE)])
    threshold = StringField(_l("Lowest score"), filters=[strip_filter])
    submit = SubmitField(_l("Advance to the next round"))


class TierForm(BaseForm):
    name = StringField(_l("Award"), filters=[strip_filter], validators=[InputRequired(REQUIRED_MESSAGE),
                                                                       Length(max=TIER_NAME_MAX)])
    quota = IntegerField(_l("Number of awards"), validators=[InputRequired(REQUIRED_MESSAGE),
                                                             NumberRange(0, MAX_QUOTA)])
    min_score = DecimalField(_l("Minimum score"), places=None,
                             description=_l("Optional: entries with a lower final score (0–100) cannot get "
                                            "this award."),
                             validators=[Optional(), NumberRange(0, SCORE_SCALE)])
    submit = SubmitField(_l("Save"))


class OpenRoundForm(BaseForm):
    """Opening the first round before the entry deadline closes submissions early: a reason is needed."""

    reason = StringField(_l("Reason for closing submissions early"), filters=[strip_filter],
                         validators=[Optional()])  # the service checks its length (at most REASON_MAX)


class PublishForm(BaseForm):
    confirm = BooleanField(_l("I have checked the entries, rounds and awards above; publish the results."),
                           validators=[InputRequired(_l("Please confirm that you have checked the summary."))])
    submit = SubmitField(_l("Publish the results"))


class AwardForm(BaseForm):
    tier_id = SelectField(_l("Award"), coerce=str)
    submit = SubmitField(_l("Change"))
