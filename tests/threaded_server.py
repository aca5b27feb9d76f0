"""The test app served over real HTTP from a background thread, one thread per request (as `flask run`).

For tests that need concurrent clients on the suite's own database (browser tests, concurrency tests);
the live tier (tests/live) starts real server processes instead.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from werkzeug.serving import make_server


@contextmanager
def serve_in_thread(app, name: str = "test-server") -> Iterator[str]:
    """Serve ``app`` on a free local port; yields its base URL (``http://127.0.0.1:<port>``)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
