"""The ``.proto`` definitions of the ZITADEL-compatible API (ZITADEL's packages, services,
messages, field numbers and enum values, for the RPCs Chronik serves) and the Python code
generated from them in :mod:`chronik.api.proto.zitadel`, never edited by hand: change a
``.proto`` file, then run ``python -m chronik.api.proto.generate``."""
