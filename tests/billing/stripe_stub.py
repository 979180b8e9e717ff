"""A local stand-in for Stripe's HTTP API, so the real `stripe` library makes real requests.

`with StripeStub() as stub:` serves on 127.0.0.1:<free port> in a thread and
points settings.STRIPE_API_BASE at itself (use the `stripe_stub` fixture).
Every request is recorded with its headers and decoded form body; sessions
can be given a state (paid, unpaid) for later retrieval; `fail_next` makes the
next request answer with a Stripe error, `fail` the next few with a given one.
A POST with an Idempotency-Key already answered gets the first answer again, as
Stripe does. PaymentIntents follow Stripe's test cards (pm_card_chargeDeclined,
pm_card_authenticationRequired). Events and answers start from the objects Stripe publishes
(tests/billing/stripe_published/), with only the fields a test is about overlaid.
"""

import copy
import functools
import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

PUBLISHED = Path(__file__).with_name("stripe_published")


@functools.cache
def _published_objects() -> dict[str, dict]:
    objects = {path.stem: json.loads(path.read_text()) for path in PUBLISHED.glob("*.json")}
    # Stripe's published event carries a payment_intent as its object: the one we have.
    objects["payment_intent"] = objects["event"]["data"]["object"]
    return objects


def published(kind: str) -> dict | None:
    """A fresh copy of the object Stripe publishes for `kind` ("charge", "dispute", ...)."""
    found = _published_objects().get(kind)
    return copy.deepcopy(found) if found is not None else None


def as_stripe_sends(obj: dict) -> dict:
    """`obj` over the published object of its type: every field Stripe sends is there, with
    the values the test chose where it chose them."""
    base = published(obj.get("object", "")) if isinstance(obj, dict) else None
    return {**base, **obj} if base is not None else obj


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    form: dict  # flat Stripe form keys, e.g. "line_items[0][price_data][currency]"
    query: dict = field(default_factory=dict)


class StripeStub:
    def __init__(self):
        self.requests: list[Recorded] = []
        self.sessions: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.webhook_endpoints: dict[str, dict] = {}
        self._replies: dict[str, tuple[int, dict]] = {}  # Idempotency-Key -> first answer
        self.fail_next: tuple[int, str] | None = None
        self._failures: list[tuple[int, dict]] = []  # answered in turn, before anything
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def fail(self, status: int, error_type: str, *, times: int = 1, **fields) -> None:
        """The next `times` requests answer `status` with this Stripe error body, and
        `Stripe-Should-Retry: false`, so the library sends each once (as Stripe says of
        errors a retry would not change)."""
        with self._lock:
            self._failures += [(status, {"type": error_type, "message": error_type, **fields})
                               ] * times

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def set_session(self, session_id: str, **fields) -> dict:
        with self._lock:
            session = self.sessions.setdefault(session_id, {"id": session_id,
                                                            "object": "checkout.session"})
            session.update(fields)
            return session

    # -- answers -------------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_stub_{next(self._ids)}"

    def _answer(self, method: str, path: str, form: dict) -> tuple[int, dict]:
        with self._lock:
            if self.fail_next:
                status, message = self.fail_next
                self.fail_next = None
                return status, {"error": {"type": "card_error" if status == 402 else
                                          "invalid_request_error", "message": message}}
        if method == "POST" and path == "/v1/customers":
            return 200, {"id": self._next_id("cus"), "object": "customer",
                         "name": form.get("name"), "email": form.get("email")}
        if method == "POST" and path == "/v1/checkout/sessions":
            session_id = self._next_id("cs_test")
            session = self.set_session(
                session_id, url=f"https://checkout.stripe.test/c/pay/{session_id}",
                mode=form.get("mode"), status="open", payment_status="unpaid",
                amount_total=int(form.get("line_items[0][price_data][unit_amount]") or 0),
                currency=form.get("line_items[0][price_data][currency]") or form.get("currency"),
                client_reference_id=form.get("client_reference_id"),
                customer=form.get("customer"),
                metadata={k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
                payment_intent=None, invoice=None,
            )
            return 200, dict(session)
        if method == "GET" and path.startswith("/v1/checkout/sessions/"):
            session = self.sessions.get(path.rsplit("/", 1)[1])
            if session is None:
                return 404, {"error": {"type": "invalid_request_error",
                                       "message": "No such checkout.session"}}
            return 200, dict(session)
        if method == "POST" and path == "/v1/payment_intents":
            return self._payment_intent(form)
        if method == "GET" and path.startswith("/v1/payment_intents/"):
            intent = self.payment_intents.get(path.rsplit("/", 1)[1])
            if intent is None:
                return 404, {"error": {"type": "invalid_request_error",
                                       "message": "No such payment_intent"}}
            return 200, dict(intent)
        if method == "POST" and path.startswith("/v1/payment_methods/") and \
                path.endswith("/detach"):
            return 200, {"id": path.split("/")[3], "object": "payment_method", "customer": None}
        if path.startswith("/v1/webhook_endpoints"):
            return self._webhook_endpoint(method, path, form)
        if method == "POST" and path == "/v1/refunds":
            return 200, {"id": self._next_id("re"), "object": "refund",
                         "amount": int(form["amount"]), "status": "succeeded",
                         "payment_intent": form.get("payment_intent")}
        return 404, {"error": {"type": "invalid_request_error",
                               "message": f"stub has no {method} {path}"}}

    def _webhook_endpoint(self, method: str, path: str, form: dict) -> tuple[int, dict]:
        events = [v for k, v in sorted(form.items()) if k.startswith("enabled_events[")]
        with self._lock:
            if method == "GET" and path == "/v1/webhook_endpoints":
                return 200, {"object": "list", "data": list(self.webhook_endpoints.values()),
                             "has_more": False}
            if method == "POST" and path == "/v1/webhook_endpoints":
                endpoint = {"id": self._next_id("we"), "object": "webhook_endpoint",
                            "url": form["url"], "api_version": form.get("api_version"),
                            "enabled_events": events, "status": "enabled"}
                self.webhook_endpoints[endpoint["id"]] = endpoint
                return 200, {**endpoint, "secret": f"whsec_stub_{endpoint['id']}"}
            endpoint = self.webhook_endpoints.get(path.rsplit("/", 1)[1])
            if method == "POST" and endpoint is not None:
                endpoint["enabled_events"] = events
                return 200, dict(endpoint)
        return 404, {"error": {"type": "invalid_request_error",
                               "message": "No such webhook endpoint"}}

    def _payment_intent(self, form: dict) -> tuple[int, dict]:
        """A confirmed PaymentIntent; Stripe's test cards decide: pm_card_chargeDeclined is
        declined (402 with the intent attached), pm_card_authenticationRequired needs
        authentication off session (402, requires_action), any other card succeeds."""
        intent_id = self._next_id("pi")
        intent = {
            "id": intent_id, "object": "payment_intent",
            "latest_charge": "ch" + intent_id.removeprefix("pi"),
            "amount": int(form["amount"]), "currency": form["currency"],
            "customer": form.get("customer"), "payment_method": form.get("payment_method"),
            "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
            "status": "succeeded", "last_payment_error": None,
        }
        card = form.get("payment_method") or ""
        error = None
        if card == "pm_card_chargeDeclined":
            intent["status"] = "requires_payment_method"
            error = {"type": "card_error", "code": "card_declined",
                     "decline_code": "generic_decline", "message": "Your card was declined."}
        elif card == "pm_card_authenticationRequired":
            intent["status"] = "requires_action"
            error = {"type": "card_error", "code": "authentication_required",
                     "message": "This payment requires authentication."}
        if error:
            intent["last_payment_error"] = dict(error)
        with self._lock:
            self.payment_intents[intent["id"]] = intent
        if error:
            return 402, {"error": {**error, "payment_intent": dict(intent)}}
        return 200, dict(intent)

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                form = dict(parse_qsl(body, keep_blank_values=True))
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                with stub._lock:
                    stub.requests.append(Recorded(method, parts.path, dict(self.headers),
                                                  form, query))
                key = self.headers.get("Idempotency-Key")
                with stub._lock:
                    replay = stub._replies.get(key) if key and method == "POST" else None
                    failure = stub._failures.pop(0) if stub._failures else None
                if failure is not None:
                    status, payload = failure[0], {"error": dict(failure[1])}
                elif replay is not None:  # Stripe answers a reused key with the first answer
                    status, payload = replay
                else:
                    status, payload = stub._answer(method, parts.path, form)
                    if key and method == "POST" and status in (200, 402):  # not fail_next's
                        with stub._lock:
                            stub._replies.setdefault(key, (status, payload))
                if status == 200:
                    payload = as_stripe_sends(payload)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_stub")
                if failure is not None:
                    self.send_header("Stripe-Should-Retry", "false")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def log_message(self, *args):
                pass

        return Handler


# -- webhooks, signed the way Stripe signs them ------------------------------------------------

def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix time>,v1=<HMAC-SHA256 of "t.payload">."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(),
                      hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


_event_ids = itertools.count(1)


def event(event_type: str, obj: dict, *, event_id: str | None = None) -> dict:
    """An event as Stripe sends it: its published envelope, our type, version and object."""
    return {
        **published("event"),
        "id": event_id or f"evt_test_{next(_event_ids)}_{int(time.time() * 1000)}",
        "type": event_type, "livemode": False,
        "api_version": "2026-10-28.endive", "created": int(time.time()),
        "data": {"object": as_stripe_sends(obj)},
    }


def session_object(purchase, *, payment_status="paid", status="complete", **extra) -> dict:
    """A checkout.session as Stripe sends it in an event for `purchase`."""
    return {
        "id": purchase.stripe_checkout_session_id, "object": "checkout.session",
        "mode": "payment", "status": status, "payment_status": payment_status,
        "amount_total": purchase.price_minor, "currency": purchase.currency,
        "client_reference_id": str(purchase.pk),
        "metadata": {"purchase_id": str(purchase.pk),
                     "organization": purchase.organization.slug},
        "customer": "cus_stub_1", "payment_intent": f"pi_{purchase.pk}", "invoice": None,
        **extra,
    }


def topup_charge_object(attempt, *, amount_refunded: int) -> dict:
    """The charge of an auto-topup attempt's PaymentIntent, as charge.refunded sends it."""
    return {
        "id": attempt.stripe_charge_id, "object": "charge", "amount": attempt.amount_minor,
        "amount_refunded": amount_refunded, "currency": attempt.currency,
        "payment_intent": attempt.payment_intent_id, "customer": attempt.customer_id,
        "refunded": amount_refunded >= attempt.amount_minor,
        "metadata": {"topup_attempt_id": str(attempt.pk), "try": str(attempt.tries),
                     "organization": attempt.organization.slug},
    }


def charge_object(purchase, *, amount_refunded: int, charge_id: str | None = None) -> dict:
    return {
        "id": charge_id or f"ch_{purchase.pk}", "object": "charge",
        "amount": purchase.price_minor, "amount_refunded": amount_refunded,
        "currency": purchase.currency, "payment_intent": f"pi_{purchase.pk}",
        "customer": "cus_stub_1", "refunded": amount_refunded >= purchase.price_minor,
        # Stripe copies the PaymentIntent's metadata onto the charge it creates.
        "metadata": {"purchase_id": str(purchase.pk), "organization": purchase.organization.slug},
    }
