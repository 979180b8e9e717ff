"""The reporting pages: the org's dashboard, usage, transactions and monthly summaries,
and staff's summary across organisations."""

from django.urls import path

from reporting import views
from reporting.dashboard import live
from reporting.dashboard import views as dashboard
from reporting.summaries import views as summaries
from reporting.transactions import views as transactions

urlpatterns = [
    path("o/<slug:slug>/", dashboard.dashboard, name="dashboard"),
    path("o/<slug:slug>/live/", live.live, name="live"),
    path("o/<slug:slug>/usage/", views.usage, name="usage"),
    path("o/<slug:slug>/transactions/", transactions.transactions, name="transactions"),
    path("o/<slug:slug>/transactions.csv", transactions.transactions_csv,
         name="transactions_csv"),
    path("o/<slug:slug>/entries/<int:entry_id>/", transactions.entry_detail,
         name="entry_detail"),
    path("o/<slug:slug>/reports/monthly/", summaries.monthly, name="monthly_summary"),
    path("o/<slug:slug>/reports/monthly.csv", summaries.monthly_csv, name="monthly_summary_csv"),
    path("staff/reports/monthly/", summaries.staff_monthly, name="staff_monthly_summary"),
    path("staff/reports/monthly.csv", summaries.staff_monthly_csv,
         name="staff_monthly_summary_csv"),
]
