"""The usage API as the tests call it: a POST with an org's key, and the error's one shape."""

import json

URL = "/api/v1/usage-events"


def post(client, key, body, *, mode=None, raw=False):
    """POST `body` (JSON-encoded unless `raw`) with `key`'s bearer token (none without a key);
    `mode` is the `?mode=` asked for (sync when None)."""
    url = URL if mode is None else f"{URL}?mode={mode}"
    data = body if raw else json.dumps(body)
    headers = {"Authorization": f"Bearer {key.raw_key}"} if key else {}
    return client.post(url, data=data, content_type="application/json", headers=headers)


def post_events(client, key, *events):
    return post(client, key, {"events": list(events)})


def assert_error(response, status, code):
    """The API's error `code`, with its code, message and details and nothing else."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]
