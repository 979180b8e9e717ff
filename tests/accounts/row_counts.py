"""Row counts of every table, to show that a refused command wrote nothing."""

from django.apps import apps


def row_counts() -> dict[str, int]:
    # An unmanaged model (a permission holder) has no table.
    return {model._meta.label: model.objects.count() for model in apps.get_models()
            if model._meta.managed}
