"""Reporting keeps no tables of its own; this module only declares its staff power.

Reading usage across organisations is a permission of its own, like every other staff
power (docs/operate.md, "Staff permissions"): `is_staff` alone does not open it.
"""

from django.db import models

VIEW_ALL_ORGS = "reporting.view_all_orgs"


class CrossOrgReport(models.Model):
    """No table: the holder of the `view_all_orgs` permission."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_all_orgs", "Can view usage summaries across all organisations")]

    def __str__(self):
        return "usage across organisations"
