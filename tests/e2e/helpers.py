"""What several browser tests do the same way."""

PASSWORD = "correct-horse-battery"  # the world fixture's password for every user


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
