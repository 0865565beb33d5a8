"""Which conversations a caller may see: with API keys on, each key has its own thread space.

A thread's owner is part of its stored id: a client's thread ``abc`` is kept as ``<owner
digest>:abc`` and shown to the client as ``abc``. The owner is the key, or the tenant it is
mapped to in ``LMSA_API_TENANTS`` (so several keys of one tenant share its threads). Two owners
naming the same id therefore address two different threads, so a key can neither read,
continue, resume nor delete another key's thread, and asking for one answers exactly like a
missing thread (404; creating it simply succeeds), which leaves no existence oracle. Encoding
the owner in the id, rather than in checkpoint metadata or a side table, needs no extra read
per request, has no window between creating a thread and recording its owner, and works the
same for every checkpointer (memory, sqlite, redis), whose ``adelete_thread`` then removes the
thread and its ownership together.

With keys off (a local single user) ids are stored as given, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request


@dataclass(frozen=True)
class Tenant:
    """The caller's thread space: ``owner`` is the digest of the key's tenant (``api_tenants``)
    or of the API key itself, or None with auth off."""

    owner: str | None = None

    def stored(self, thread_id: str) -> str:
        """The checkpointer's id for the caller's thread ``thread_id``."""
        return f"{self.owner}:{thread_id}" if self.owner else thread_id


async def tenant(request: Request) -> Tenant:
    """The router-level authenticator has already set ``request.state.owner``."""
    return Tenant(getattr(request.state, "owner", None))


CurrentTenant = Annotated[Tenant, Depends(tenant)]
