import subprocess
import sys

from mutt_app.access import users
from mutt_app.storage.db import session_scope


def test_importing_users_hashes_nothing():
    """Processes that never check a password (workers, `mutt listen`) do not pay the 64 MiB of an
    argon2 hash at import."""
    code = "from mutt_app.access import users; print(users._dummy_hash.cache_info().currsize)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "0"


def test_an_unknown_name_costs_the_same_hash_check_as_a_wrong_password(sqlite_url):
    with session_scope() as session:
        users.create(session, "alice", "correct horse battery", "viewer", actor="test")
    with session_scope() as session:
        assert users.authenticate(session, "alice", "correct horse battery").username == "alice"
        assert users.authenticate(session, "alice", "wrong") is None
        assert users.authenticate(session, "nobody", "wrong") is None
    dummy = users._dummy_hash()
    assert users._dummy_hash.cache_info().currsize == 1
    # checked with the same argon2 parameters (time and memory cost) as a real user's hash
    assert dummy.startswith("$argon2id$") and not users._hasher.check_needs_rehash(dummy)
