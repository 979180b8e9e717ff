"""The Stripe webhook endpoint: a thin door onto dispatcher.receive."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.faults.transient import RETRY_AFTER_SECONDS, mark_logged
from billing.webhooks import dispatcher


@csrf_exempt
@require_POST
def stripe_webhook(request):
    result = dispatcher.receive(payload=request.body,
                                signature_header=request.headers.get("Stripe-Signature"))
    if result.status == 200:
        return JsonResponse({"received": True, "result": result.message})
    response = HttpResponse(result.message, status=result.status, content_type="text/plain")
    if result.status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        mark_logged(response)  # by dispatcher.receive
    return response
