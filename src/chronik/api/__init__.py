"""The HTTP surfaces: thin translators from HTTP to the core and back."""

from chronik.api.app import create_app

__all__ = ["create_app"]
