"""Options of the support_web plugin."""

from __future__ import annotations

import os
from dataclasses import dataclass

from component.config import doc


@dataclass
class SupportWebOptions:
    identity_secret: str = doc(
        "Key shared with the website to sign visitor identities (HMAC-SHA256); empty: no identity is "
        "ever shown as verified.", "")
    identity_secret_env: str = doc("Read the identity key from this environment variable instead.", "")
    identity_max_age: int = doc("Seconds a signed identity stays valid after its timestamp.", 86400)
    tokens_per_ticket: int = doc("Live conversation tokens kept per ticket (older ones are revoked).", 3)

    def __post_init__(self) -> None:
        if self.identity_secret and self.identity_secret_env:
            raise ValueError("give identity_secret or identity_secret_env, not both")
        if self.identity_max_age <= 0 or self.tokens_per_ticket <= 0:
            raise ValueError("identity_max_age and tokens_per_ticket must be positive")

    def key(self) -> bytes:
        if self.identity_secret_env:
            value = os.environ.get(self.identity_secret_env, "")
            if not value:
                raise ValueError(f"environment variable {self.identity_secret_env} is empty or unset")
            return value.encode()
        return self.identity_secret.encode()
