"""How an event of another metering wire format becomes one of our usage events
(docs/integrate.md, "The mapping"): staff map a Stripe `event_name` or a CloudEvents
`type` to a meter or an AI model, and say where in the event's payload its value, its
user and its operation (the group-by) are. A shared catalogue, like meters and prices."""

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

# A JSON path into the payload, as OpenMeter's valueProperty: `$.tokens`, `$.usage.input`.
PATH_RE = re.compile(r"\$(\.[A-Za-z0-9_-]{1,100}){1,8}")
PATH_HELP = "A JSON path into the event's payload (Stripe) or data (CloudEvents), e.g. $.tokens"


def validate_path(value: str) -> None:
    if value and not PATH_RE.fullmatch(value):
        raise ValidationError(f"{value!r} is not a JSON path like $.tokens or $.usage.input")


def path_keys(path: str) -> list[str]:
    """`$.usage.input` -> ["usage", "input"]."""
    return path.split(".")[1:]


class EventMapping(models.Model):
    event_name = models.CharField(
        max_length=100, unique=True,
        help_text="The Stripe event_name or CloudEvents type this mapping reads.")
    meter = models.ForeignKey("billing.Meter", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", help_text="Charge the event to this meter ...")
    ai_model = models.ForeignKey(
        "billing.AIModel", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="... or as tokens of this AI model.")
    value_path = models.CharField(
        max_length=200, default="$.value", validators=[validate_path],
        help_text=f"A meter's quantity. {PATH_HELP}")
    input_tokens_path = models.CharField(
        max_length=200, default="$.input_tokens", validators=[validate_path],
        help_text="An AI model's input tokens.")
    output_tokens_path = models.CharField(
        max_length=200, default="$.output_tokens", validators=[validate_path],
        help_text="An AI model's output tokens.")
    user_path = models.CharField(
        max_length=200, blank=True, validators=[validate_path],
        help_text="The user's email (optional); empty: no user.")
    operation_path = models.CharField(
        max_length=200, blank=True, validators=[validate_path],
        help_text="The group-by shown as the operation in reports (optional).")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["event_name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(meter__isnull=False, ai_model__isnull=True)
                           | Q(meter__isnull=True, ai_model__isnull=False)),
                name="event_mapping_one_target",
            ),
        ]

    def __str__(self):
        return f"{self.event_name} -> {self.meter or self.ai_model}"

    def clean(self):
        if (self.meter_id is None) == (self.ai_model_id is None):
            raise ValidationError("Choose a meter or an AI model (exactly one).")
