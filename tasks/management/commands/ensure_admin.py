"""Create the local admin account once, with a generated password kept in `.admin-password`.

Like `airflow standalone`: a newcomer gets a working login without choosing a password,
and later runs print the same credentials instead of making new ones.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create the local admin user once and print its credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--file",
            default=str(Path(settings.BASE_DIR) / ".admin-password"),
            help="Where the generated password is kept, alone on its line (git-ignored)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"]).resolve()
        username = options["username"]
        users = get_user_model().objects
        password = _saved_password(path)
        if password and users.filter(username=username).exists():
            self.stdout.write(f"Admin login: username {username}, password {password}")
            self.stdout.write(f"  (the password alone is in {path})")
            return
        password = secrets.token_urlsafe(12)
        user = users.filter(username=username).first()
        if user is None:
            users.create_superuser(username=username, email="", password=password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        path.write_text(f"{password}\n")
        path.chmod(0o600)
        self.stdout.write(
            self.style.SUCCESS(f"Admin login: username {username}, password {password}")
        )
        self.stdout.write(f"  (the password alone is in {path}; delete it for a new one)")


def _saved_password(path: Path) -> str:
    """The kept password; files from before it held `username:password` still count."""
    if not path.exists():
        return ""
    # A generated password is URL-safe base64, so a colon can only be the old separator.
    return path.read_text().strip().rpartition(":")[2]
