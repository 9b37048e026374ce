#!/usr/bin/env python3
"""Prints one line for a `cargo lambda invoke --output-format json` answer read from
stdin: the status and the custom claims (or the body). Writes the consumer ID found
in the claims, if any, to the file given as the second argument."""
import json
import sys

name, id_file = sys.argv[1], sys.argv[2]
claim = sys.argv[3] if len(sys.argv) > 3 else "zuplo_consumer_id"
resp = json.loads(sys.stdin.read())
body = json.loads(resp.get("body") or "{}")
claims = body.get("userRecord", {}).get("customClaims")
if claims is None:
    claims = body.get("claims")
if isinstance(claims, dict) and "userRecord" not in body:
    # Supabase echoes every claim of the token: show only what the hook added.
    added = {k: v for k, v in claims.items() if k == claim}
    shown = f"claims: {json.dumps(added)} + {len(claims) - len(added)} echoed unchanged"
else:
    shown = json.dumps(claims if claims is not None else body)
status = resp.get("statusCode")
print(f"  {name:<44} {status}  {shown}")
found = claims.get(claim, "") if isinstance(claims, dict) else ""
if not found and isinstance(body, dict) and isinstance(body.get("consumer_id"), str):
    found = body["consumer_id"]  # Clerk's and Auth0's routes answer the ID itself
with open(id_file, "w") as f:
    f.write(found)
