from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import invitation_views, second_factor_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
    path("account/security/", second_factor_views.security, name="second_factor_security"),
    path("account/security/setup/", second_factor_views.setup, name="second_factor_setup"),
    path("account/security/verify/", second_factor_views.verify, name="second_factor_verify"),
    path("orgs/switch/", views.switch_org, name="switch_org"),
    path("o/<slug:slug>/members/", views.members, name="members"),
    path("o/<slug:slug>/members/<int:membership_id>/role/", views.change_role, name="change_role"),
    path("o/<slug:slug>/members/<int:membership_id>/remove/", views.remove_member,
         name="remove_member"),
    path("o/<slug:slug>/invitations/<int:invitation_id>/withdraw/", views.withdraw_invitation,
         name="withdraw_invitation"),
    path("invitations/<str:token>/", invitation_views.invitation, name="invitation"),
    path("o/<slug:slug>/api-keys/", views.api_keys, name="api_keys"),
    path("o/<slug:slug>/api-keys/<int:key_id>/revoke/", views.revoke_api_key,
         name="revoke_api_key"),
    path("o/<slug:slug>/settings/history/", views.settings_history, name="settings_history"),
]
