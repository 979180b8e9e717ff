"""Formsets for the admin's rows of inputs (a list's editable columns, a tabular inline):
Django draws them under a column header, with no label, so each input is named here
after its column and its row ("Active: Starter"), as WCAG 2 asks (axe-core's `label`)."""

from django import forms
from django.forms.models import BaseInlineFormSet, BaseModelFormSet


class _LabelledRows:
    def add_fields(self, form, index):
        super().add_fields(form, index)
        row = str(form.instance) if form.instance.pk else "new row"
        for field in form.fields.values():
            # A split date and time names its two inputs itself (admin/widgets/).
            if isinstance(field.widget, (forms.HiddenInput, forms.MultiWidget)):
                continue
            field.widget.attrs.setdefault("aria-label", f"{field.label}: {row}")


class LabelledModelFormSet(_LabelledRows, BaseModelFormSet):
    """For ModelAdmin.get_changelist_formset (list_editable)."""


class LabelledInlineFormSet(_LabelledRows, BaseInlineFormSet):
    """For a TabularInline's formset."""
