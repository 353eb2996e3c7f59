"""The JSON reply the loopback emulators (sso_emulator.py, signin_emulator.py) send, as AWS's
JSON services do: the body, its length and, for an error, the `x-amzn-ErrorType` header."""
import json


def reply_json(handler, status, doc, error_type=None):
    """Send `doc` as the reply of BaseHTTPRequestHandler `handler`."""
    data = json.dumps(doc).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    if error_type:
        handler.send_header("x-amzn-ErrorType", error_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
