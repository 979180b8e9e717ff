"""Staff admin for how model names resolve: providers, match rules and the resolve tester.

Rules are genai-prices' JSON (billing.pricing.catalogue.match_rules); a form refuses a
rule that does not compile, with the reason beside the field. Saving a
provider or a model changes the model catalogue's version, so every process
resolves with the new rules from its next batch. The tester answers "which
model does this name resolve to", with the step that found it, through the
very code that prices events.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse

from billing.models.pricing import AIProvider
from billing.pricing.catalogue.match_rules import InvalidRule, compile_rule
from billing.pricing.catalogue.resolution import UnknownModel, current_catalogue


def clean_rule(value):
    """A form field's rule: None for empty, else one that compiles (ValidationError)."""
    if value in (None, "", {}):
        return None
    try:
        compile_rule(value)
    except InvalidRule as error:
        raise ValidationError(str(error)) from None
    return value


class AIProviderForm(forms.ModelForm):
    class Meta:
        model = AIProvider
        fields = ["slug", "name", "position", "model_match", "provider_match",
                  "fallback_providers"]

    def clean_model_match(self):
        return clean_rule(self.cleaned_data.get("model_match"))

    def clean_provider_match(self):
        return clean_rule(self.cleaned_data.get("provider_match"))

    def clean_fallback_providers(self):
        value = self.cleaned_data.get("fallback_providers") or []
        if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
            raise ValidationError('a list of provider slugs, e.g. ["openai", "anthropic"]')
        return [s.strip().lower() for s in value]


@admin.register(AIProvider)
class AIProviderAdmin(admin.ModelAdmin):
    form = AIProviderForm
    list_display = ["slug", "name", "position", "model_match", "fallback_providers"]
    search_fields = ["slug", "name"]
    ordering = ["position", "slug"]

    def has_delete_permission(self, request, obj=None):
        return False  # events name providers; a provider is kept like its models


class ResolveForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="As a client would send it, e.g. "
                           "gpt-4o-2024-08-06 or openai/gpt-4o.")
    provider = forms.CharField(max_length=50, required=False,
                               help_text="Optional, as the event's provider field.")


def resolve_view(model_admin, request):
    """GET with ?name=...&provider=...: the model the name resolves to, and how."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form = ResolveForm(request.GET or None)
    answer = error = None
    if form.is_valid():
        catalogue = current_catalogue()
        try:
            answer = catalogue.explain(form.cleaned_data["name"], form.cleaned_data["provider"])
        except UnknownModel as refused:
            error = str(refused)
    else:
        catalogue = None
    return TemplateResponse(request, "admin/billing/resolve_model.html", {
        **model_admin.admin_site.each_context(request),
        "title": "Which model does this name resolve to?", "form": form,
        "answer": answer, "error": error, "opts": model_admin.model._meta,
        "broken_rules": catalogue.broken_rules if catalogue else [],
    })
