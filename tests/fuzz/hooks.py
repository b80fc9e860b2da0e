"""Schemathesis hooks for `make test`'s fuzzing run (`run_fuzz` in scripts/lib.sh).

The local emulator (`cargo lambda watch`) answers 500 in text/plain, before any function
runs, to a body labelled JSON that is not UTF-8. API Gateway hands such a body to the
function base64-encoded and the function answers 400/`1001`; tests/tests/hostile.rs and
shared/src/http.rs test that path in-process. So those bodies are left out here, and only
here.

The client API (`/v1.4/...` but `/v1.4/api/`) answers every error with HTTP 500 and the
TalkPlus body, as the SDKs require; `client_errors` holds it to that instead of the checks that
expect 4xx (scripts/lib.sh, `run_fuzz`).
"""

import schemathesis


@schemathesis.hook
def filter_body(ctx, body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


@schemathesis.check
def client_errors(ctx, response, case):
    """A client API answer is 200 with a JSON object, or 500 with the TalkPlus body of a
    client mistake (never 1003, a server fault)."""
    if case.path.startswith("/v1.4/api/"):
        return None
    # Probes with a method the operation does not have are the router's (404/405), not ours.
    if case.method.upper() != case.operation.method.upper():
        return None
    if response.status_code == 200:
        assert isinstance(response.json(), dict), "200 without a JSON object"
        return None
    assert response.status_code == 500, f"the client API answered {response.status_code}"
    body = response.json()
    assert body.get("error") is True, f"not the TalkPlus error body: {body}"
    code = body.get("code")
    assert isinstance(code, str) and len(code) == 4 and code.isdigit(), f"code {code!r}"
    assert code != "1003", f"a server fault: {body}"
    return None
