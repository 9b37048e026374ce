"""Signs test cases with the official PyPI `standardwebhooks` library.

stdin: a JSON array of {"secret": "whsec_...", "id": "...", "timestamp": <unix s>,
"body": "<exact body>"}; stdout: a JSON array of "v1,<base64>" signatures, in order.
Used by tests/webhook_signatures.rs, so that our verifier is checked against what an
independent implementation signs rather than against itself.
"""

import json
import sys
from datetime import datetime, timezone

try:
    import standardwebhooks
except ImportError:
    sys.exit(
        f"the standardwebhooks package is not installed for {sys.executable}; "
        "run the tests with scripts/test.sh, which installs it into .venv"
    )


def main() -> None:
    cases = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    signatures = [
        standardwebhooks.Webhook(case["secret"]).sign(
            case["id"],
            # Aware, because sign() overwrites the tzinfo of a naive datetime with UTC.
            datetime.fromtimestamp(case["timestamp"], tz=timezone.utc),
            case["body"],
        )
        for case in cases
    ]
    json.dump(signatures, sys.stdout)


if __name__ == "__main__":
    main()
