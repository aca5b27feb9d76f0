"""``core.forms.BaseForm``: every form applies the input rules (``core.text``) to its fields by default."""
from __future__ import annotations

import importlib
import pkgutil

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

import unionevents
from unionevents.core.forms import BaseForm, int_range_filter, secret_filter, text_filter


def all_form_classes() -> list[type]:
    for module in pkgutil.walk_packages(unionevents.__path__, "unionevents."):
        importlib.import_module(module.name)
    found, todo = [], [FlaskForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return [form for form in found if form.__module__.startswith("unionevents.")]


def test_every_form_of_the_package_derives_from_base_form():
    forms = all_form_classes()
    assert len(forms) > 30  # the check below looks at something
    strays = [f"{form.__module__}.{form.__qualname__}" for form in forms if not issubclass(form, BaseForm)]
    assert not strays, "derive these from core.forms.BaseForm: " + ", ".join(strays)


class Sample(BaseForm):
    class Meta:
        csrf = False

    name = StringField(filters=[lambda v: v.strip() if isinstance(v, str) else v])
    note = TextAreaField()
    password = PasswordField()
    count = IntegerField()
    union = SelectField(coerce=int, choices=[SelectChoice(1, "a")], validate_choice=False)


def _sample(app, **data) -> Sample:
    with app.test_request_context():
        form = Sample(formdata=MultiDict(data))
        form.validate()
        return form


def test_every_field_kind_gets_its_filter_first_and_keeps_its_own(app):
    with app.test_request_context():
        form = Sample(formdata=MultiDict())
    assert form.name.filters[0] is text_filter and len(form.name.filters) == 2
    assert form.note.filters == (text_filter,)
    assert form.password.filters == (secret_filter,)
    assert form.count.filters == (int_range_filter,)
    assert form.union.filters == (int_range_filter,)


def test_text_is_cleaned_before_the_fields_own_filters(app):
    form = _sample(app, name=" \u200b王\u200d师傅 ", note="Jose\u0301", password=" Pa\u200bss ")
    assert form.name.data == "王师傅"
    assert form.note.data == "José"
    assert form.password.data == " Pa\u200bss "  # a password is never changed
    assert not form.errors


def test_direction_controls_and_out_of_range_numbers_are_field_errors(app):
    form = _sample(app, name="abc\u202edef", count="99999999999999999999", union="-99999999999999999999")
    assert {name: [str(m) for m in messages] for name, messages in form.errors.items()} == {
        "name": ["含有不可见的文字方向控制字符，请删除。"],
        "count": ["数字超出范围。"],
        "union": ["数字超出范围。"],
    }
