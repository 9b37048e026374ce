"""Signs (or verifies) test cases with an independent webhook library.

    python3 official_signer.py [standardwebhooks|svix] [sign|verify]

The library is PyPI `standardwebhooks` (the default) or PyPI `svix` 1.83.0, the last
release with Svix's own signer and verifier (2.x wraps standardwebhooks, so it would
not be a second implementation).

sign: stdin is a JSON array of {"secret": "whsec_...", "id": "...", "timestamp": <unix s>,
"body": "<exact body>"}; stdout is a JSON array of "v1,<base64>" signatures, in order.

verify: stdin is a JSON array of {"secret": "whsec_...", "headers": {name: value},
"body": "<exact body>"}; stdout is a JSON array with, for each case, null when the
library accepts the delivery (at the current time, as a receiver would), else its error.

Used by tests/webhook_signatures.rs, so that our verifier is checked against what an
independent implementation signs rather than against itself.
"""

import json
import sys
from datetime import datetime, timezone

SVIX_VERSION = "1.83.0"


def load(library: str):
    """The library's Webhook class."""
    if library == "standardwebhooks":
        try:
            import standardwebhooks
        except ImportError:
            sys.exit(
                f"the standardwebhooks package is not installed for {sys.executable}; "
                "run the tests with scripts/test.sh, which installs it into .venv"
            )
        return standardwebhooks.Webhook
    if library == "svix":
        from importlib import metadata

        try:
            version = metadata.version("svix")
            import svix.webhooks
        except (ImportError, metadata.PackageNotFoundError):
            version = None
        if version != SVIX_VERSION:
            sys.exit(
                f"svix {SVIX_VERSION} is not installed for {sys.executable} "
                f"(found {version}); run the tests with scripts/test.sh, which installs "
                "it into .venv"
            )
        return svix.webhooks.Webhook
    sys.exit(f"unknown library {library!r}: expected standardwebhooks or svix")


def main() -> None:
    library = sys.argv[1] if len(sys.argv) > 1 else "standardwebhooks"
    mode = sys.argv[2] if len(sys.argv) > 2 else "sign"
    webhook = load(library)
    cases = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    if mode == "sign":
        results = [
            webhook(case["secret"]).sign(
                case["id"],
                # Aware, because sign() overwrites the tzinfo of a naive datetime with UTC.
                datetime.fromtimestamp(case["timestamp"], tz=timezone.utc),
                case["body"],
            )
            for case in cases
        ]
    elif mode == "verify":
        results = []
        for case in cases:
            try:
                webhook(case["secret"]).verify(case["body"], case["headers"])
                results.append(None)
            except Exception as e:  # the library's refusal, whatever its class
                results.append(f"{type(e).__name__}: {e}")
    else:
        sys.exit(f"unknown mode {mode!r}: expected sign or verify")
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
