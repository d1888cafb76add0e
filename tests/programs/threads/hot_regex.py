"""A request handler that burns its CPU in one regex (catastrophic backtracking) and some JSON."""
import json
import re

VALIDATOR = re.compile(r"(a+)+b")


def validate(text: str) -> bool:
    return VALIDATOR.match(text) is not None


def handle(body: str) -> bool:
    payload = json.loads(body)
    return validate(payload["name"])


print("ready", flush=True)
while True:
    handle('{"name": "aaaaaaaaaaaaaaaaaaa"}')
