"""Staff define event mappings in the admin (docs/integrate.md, "The mapping")."""

import pytest

from billing.models import EventMapping, Meter
from billing.models.pricing import AIModel
from tests.billing.usage_fixtures import seed_prices

pytestmark = pytest.mark.django_db
URL = "/admin/billing/eventmapping/add/"


def form(**values):
    return {"event_name": "gpu_time", "meter": "", "ai_model": "", "value_path": "$.value",
            "input_tokens_path": "$.input_tokens", "output_tokens_path": "$.output_tokens",
            "user_path": "", "operation_path": "", **values}


def test_staff_map_an_event_name_to_a_meter_with_its_paths(staff_client):
    seed_prices()
    gpu = Meter.objects.get(code="compute.gpu_seconds")
    response = staff_client.post(URL, form(meter=gpu.pk, value_path="$.usage.seconds",
                                           user_path="$.user"))
    assert response.status_code == 302, response.content.decode()[:2000]
    mapping = EventMapping.objects.get()
    assert (mapping.event_name, mapping.meter, mapping.value_path, mapping.user_path) == (
        "gpu_time", gpu, "$.usage.seconds", "$.user")
    assert "gpu_time" in staff_client.get("/admin/billing/eventmapping/").content.decode()


@pytest.mark.parametrize("values,field", [
    ({}, "__all__"),  # neither a meter nor a model
    ({"both": True}, "__all__"),
    ({"meter": "gpu", "value_path": "tokens"}, "value_path"),
    ({"meter": "gpu", "user_path": "$.a[0]"}, "user_path"),
])
def test_a_mapping_needs_one_target_and_json_paths(staff_client, values, field):
    seed_prices()
    gpu = Meter.objects.get(code="compute.gpu_seconds").pk
    model = AIModel.objects.get(name="gpt-4o").pk
    values = dict(values)
    if values.pop("both", False):
        values.update(meter=gpu, ai_model=model)
    if values.get("meter") == "gpu":
        values["meter"] = gpu
    response = staff_client.post(URL, form(**values))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not EventMapping.objects.exists()
