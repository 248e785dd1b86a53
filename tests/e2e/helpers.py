"""What several browser tests do the same way."""

import threading
import time

PASSWORD = "correct-horse-battery"  # the world fixture's password for every user


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def close_and_settle(*contexts, seconds: float = 15) -> None:
    """Close browser contexts, then wait until the live server has finished every request
    still in flight (a segment, a heartbeat, an htmx poll). The test server shares one SQLite
    connection among its request threads; a request still reading when the test's database
    is flushed makes the flush fail ("database table is locked") and leaves rows for the next
    test."""
    for context in contexts:
        context.close()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        busy = [t for t in threading.enumerate() if "process_request_thread" in t.name]
        if not busy:
            return
        time.sleep(0.05)
