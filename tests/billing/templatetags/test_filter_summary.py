"""The folded filter panel's summary: the filters a bound form applies, choices by label."""

from django import forms

from billing.templatetags.filter_summary import active_filters


class KindForm(forms.Form):
    kind = forms.ChoiceField(required=False, choices=[("", "All kinds"), ("usage", "Usage")])
    resource = forms.CharField(required=False, label="Model or meter")
    start = forms.DateField(required=False, label="From (UTC)")


def test_names_each_applied_filter_with_its_choice_label():
    form = KindForm({"kind": "usage", "resource": "gpt-4o", "start": ""})
    assert active_filters(form) == "Kind: Usage · Model or meter: gpt-4o"


def test_says_nothing_when_nothing_filters():
    assert active_filters(KindForm({"kind": "", "resource": ""})) == ""
    assert active_filters(KindForm()) == ""


def test_a_value_outside_the_choices_is_shown_as_sent():
    assert active_filters(KindForm({"kind": "refund"})) == "Kind: refund"
