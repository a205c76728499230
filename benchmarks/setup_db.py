"""Prepare a benchmark database: migrate, then make users, conversations and login sessions.

Run as its own process with the same DJANGO_SETTINGS_MODULE, DATABASE_URL and secret key as
the daphne server under test, so the sessions it writes are the ones the server reads; no
management command and no password hashing (users get unusable passwords, sessions are made
with SessionStore the way `login()` makes them). Prints one JSON list of
`{"cookie": ..., "conversation": ...}` on stdout.

    python -m benchmarks.setup_db --users 50 --route builtin --prefix e2e
"""

from __future__ import annotations

import argparse
import json
import os


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--route", default="builtin")
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--no-migrate", action="store_true", help="the schema is there already")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskweb.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from tasks import services

    if not args.no_migrate:
        call_command("migrate", verbosity=0, interactive=False)
    route = operator_profiles(args.route)
    users = []
    for i in range(args.users):
        user = User(username=f"{args.prefix}-{i}")
        user.set_unusable_password()
        users.append(user)
    User.objects.bulk_create(users)
    users = list(User.objects.filter(username__startswith=f"{args.prefix}-").order_by("id"))
    out = []
    for user in users:
        conversation = services.conversation_create(user=user, route=route)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        out.append(
            {
                "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
                "conversation": conversation.pk,
            }
        )
    print(json.dumps(out))
    from django.db import connection

    connection.close()  # checkpoints SQLite's WAL: the file alone can then be copied


def operator_profiles(route: str) -> str:
    """`route` with each ad-hoc spec made a backend profile, as an operator makes one in the
    admin: users may name profiles only (issue #11), and benchmark users are users."""
    from agentcore.specs import parse_spec
    from tasks.models import BackendProfile

    names = []
    for i, part in enumerate(p.strip() for p in route.split(",")):
        if ":" not in part:
            names.append(part)
            continue
        spec = parse_spec(part)
        name = f"bench-{i}"
        BackendProfile.objects.update_or_create(
            name=name,
            defaults={"kind": spec.kind, "base_url": spec.base_url, "model": spec.model},
        )
        names.append(name)
    return ",".join(names)


if __name__ == "__main__":
    main()
