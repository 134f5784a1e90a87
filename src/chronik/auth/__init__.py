"""Authentication and tenancy: tokens, OIDC access tokens, roles and permissions."""

from chronik.auth.principal import Principal
from chronik.auth.tokens import Tokens

__all__ = ["Principal", "Tokens"]
