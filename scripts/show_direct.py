#!/usr/bin/env python3
"""Prints one line for a direct invocation's answer, read from stdin as the Lambda
Invoke API's body followed by a line with its HTTP status (`curl -w '\n%{http_code}'`):
the consumer claim a Cognito pre token generation answer adds to the ID and access
tokens, or the error a refusal carries. Writes the consumer ID added to the ID token,
if any, to the file given as the second argument."""
import json
import sys

name, id_file = sys.argv[1], sys.argv[2]
claim = sys.argv[3] if len(sys.argv) > 3 else "zuplo_consumer_id"
text, _, status = sys.stdin.read().rpartition("\n")
consumer = ""
if status != "200":
    # cargo lambda watch answers a function error with its errorType/errorMessage.
    try:
        error = json.loads(text)
        shown = f"Lambda error {error.get('errorType')}: {error.get('errorMessage')}"
    except ValueError:
        shown = f"HTTP {status}: {text.strip()[:200]}"
else:
    event = json.loads(text)
    response = event.get("response") or {}
    v1 = (response.get("claimsOverrideDetails") or {}).get("claimsToAddOrOverride") or {}
    v2 = response.get("claimsAndScopeOverrideDetails") or {}
    id_token = v1 or (v2.get("idTokenGeneration") or {}).get("claimsToAddOrOverride") or {}
    access = (v2.get("accessTokenGeneration") or {}).get("claimsToAddOrOverride") or {}
    consumer = id_token.get(claim, "")
    if id_token or access:
        shown = f"ID token: {json.dumps(id_token)}"
        if access:
            shown += f", access token: {json.dumps(access)}"
    else:
        shown = f"event returned, response {json.dumps(response)}"
print(f"  {name:<58} {shown}")
with open(id_file, "w") as f:
    f.write(consumer)
