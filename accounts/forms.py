from django import forms
from django.contrib.auth import forms as auth_forms

from accounts.models import Role, User


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What will use this key, e.g. 'inference-gateway (prod)'."
    )


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Also reaches invited people who never set a password (Django skips them)."""

    def get_users(self, email):
        return User.objects.filter(email__iexact=email.strip(), is_active=True)
