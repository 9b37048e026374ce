#!/usr/bin/env python3
"""Writes a Firebase `auth:export`-shaped JSON file of N made-up users, for
scripts/sync_e2e.sh and scripts/bench_sync.sh.

The layout is the one firebase-tools 15.34.2 writes (reference: lifecycle.md §2.1-2.2):
`{"users": [` then each user pretty-printed with 2 spaces, joined by `,\\n`, then `]}`;
keys in the exporter's order (localId, email, emailVerified, passwordHash, salt,
displayName, lastSignedInAt, createdAt, then providerUserInfo); timestamps as strings
of epoch milliseconds; `providerUserInfo` empty for e-mail/password users and one
google.com entry for every --google-every'th user.

Every user has a unique 28-character localId (derived from --seed and the index, so a
rerun with the same arguments writes the same file) and a unique e-mail. With
--anonymous-every K, every K'th user is anonymous (no e-mail, no providers).
Written as it goes: memory does not grow with N.

Usage: scripts/make_export.py N OUT.json [--seed S] [--google-every K] [--anonymous-every K]
"""

import argparse
import base64
import hashlib
import json
import sys

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def local_id(seed: str, index: int) -> str:
    """28 characters of [0-9A-Za-z], like the emulator's and production's uids."""
    digest = int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest(), "big")
    chars = []
    for _ in range(28):
        digest, r = divmod(digest, len(ALPHABET))
        chars.append(ALPHABET[r])
    return "".join(chars)


def user(seed: str, index: int, google_every: int, anonymous_every: int) -> dict:
    uid = local_id(seed, index)
    created = 1_796_000_000_000 + index * 1000
    if anonymous_every and index % anonymous_every == anonymous_every - 1:
        return {
            "localId": uid,
            "lastSignedInAt": str(created),
            "createdAt": str(created),
            "providerUserInfo": [],
        }
    name = f"user{index}"
    email = f"{name}.{seed}@example.com"
    record = {"localId": uid, "email": email, "emailVerified": index % 3 == 0}
    google = google_every and index % google_every == 0
    if not google:
        # The exporter keeps scrypt hashes: shaped like them, random-looking.
        h = hashlib.sha512(f"hash:{seed}:{index}".encode()).digest()
        record["passwordHash"] = base64.b64encode(h[:64]).decode()
        record["salt"] = base64.b64encode(h[:12]).decode()
    record["displayName"] = f"User {index}"
    record["lastSignedInAt"] = str(created + 5000)
    record["createdAt"] = str(created)
    if index % 97 == 0:
        record["disabled"] = True
    record["providerUserInfo"] = (
        [
            {
                "providerId": "google.com",
                "rawId": f"g-{seed}-{index}",
                "email": email,
                "displayName": f"User {index}",
            }
        ]
        if google
        else []
    )
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="how many users")
    parser.add_argument("out", help="the file to write")
    parser.add_argument("--seed", default="bench", help="varies the localIds and e-mails")
    parser.add_argument("--google-every", type=int, default=5, metavar="K",
                        help="every K'th user signed up with Google (0: none; default 5)")
    parser.add_argument("--anonymous-every", type=int, default=0, metavar="K",
                        help="every K'th user is anonymous (default 0: none)")
    args = parser.parse_args()
    if args.n < 0:
        parser.error("N must not be negative")
    with open(args.out, "w", encoding="utf-8") as out:
        out.write('{"users": [\n')
        for i in range(args.n):
            if i:
                out.write(",\n")
            out.write(json.dumps(user(args.seed, i, args.google_every, args.anonymous_every), indent=2))
        out.write("]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
