"""Generated from the ``.proto`` files beside it (see :mod:`chronik.api.proto.generate`)."""
