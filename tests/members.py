"""A member joining through the public action, with the tests' usual details."""

from redenvelope.membership import actions as membership


def join_member(username: str, plan, **details):
    """`membership.join` for `username` on `plan`: a New York address unless `details` say
    otherwise (any of join's arguments, e.g. trial=False, zip_code="94105")."""
    return membership.join(
        **{
            "username": username,
            "email": f"{username}@example.com",
            "password": "x-long-password-1",
            "plan": plan,
            "street": "1 A St",
            "city": "NYC",
            "state": "NY",
            "zip_code": "10002",
            **details,
        }
    )
