"""The prices step of seed_demo: the genai-prices sync, so every demo charge has a price."""

from io import StringIO

import pytest

from billing.demo.price_catalogue import seed_price_catalogue
from billing.models import AIModel

pytestmark = pytest.mark.django_db


def test_demo_step_runs_the_sync():
    out = StringIO()
    seed_price_catalogue(None, out)
    assert "AI models" in out.getvalue()
    assert AIModel.objects.filter(provider="openai", name="gpt-4o").exists()
