"""The org portal's billing pages, all under /o/<slug>/."""

from django.urls import path

from billing.portal import alerts, auto_topup, budgets, packages

urlpatterns = [
    path("o/<slug:slug>/credits/packages/", packages.packages, name="packages"),
    path("o/<slug:slug>/credits/packages/<int:package_id>/buy/", packages.buy,
         name="buy_package"),
    path("o/<slug:slug>/purchases/", packages.purchase_list, name="purchases"),
    path("o/<slug:slug>/purchases/<int:purchase_id>/success/", packages.purchase_success,
         name="purchase_success"),
    path("o/<slug:slug>/purchases/<int:purchase_id>/cancel/", packages.purchase_cancel,
         name="purchase_cancel"),
    path("o/<slug:slug>/purchases/<int:purchase_id>/test-checkout/", packages.test_checkout,
         name="test_checkout"),
    path("o/<slug:slug>/auto-topup/", auto_topup.auto_topup, name="auto_topup"),
    path("o/<slug:slug>/auto-topup/card/", auto_topup.card_setup, name="card_setup"),
    path("o/<slug:slug>/auto-topup/card/done/", auto_topup.card_setup_done,
         name="card_setup_done"),
    path("o/<slug:slug>/auto-topup/card/remove/", auto_topup.card_remove, name="card_remove"),
    path("o/<slug:slug>/auto-topup/card/test/", auto_topup.test_card_setup,
         name="test_card_setup"),
    path("o/<slug:slug>/alerts/", alerts.alerts, name="alerts"),
    path("o/<slug:slug>/budgets/", budgets.budgets, name="budgets"),
]
