from django.urls import path

from billing.portal import views

urlpatterns = [
    path("o/<slug:slug>/", views.dashboard, name="dashboard"),
    path("o/<slug:slug>/entries/<int:entry_id>/", views.entry_detail, name="entry_detail"),
]
