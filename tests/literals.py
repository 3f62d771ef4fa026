"""Values many tests share, in one place so they cannot drift apart."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: the tests' fixed "now"
VALID = {"email": "jane@example.com", "amount": 19.99, "currency": "USD"}  # a flat conversion
STACK = "rokt-event-forwarder"  # samconfig.toml's default stack name
UNKNOWN_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rokt-event-api-XXXXXX"
