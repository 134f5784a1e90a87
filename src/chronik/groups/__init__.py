"""Consumer groups: competing consumers pulling from one named position of a tenant."""

from chronik.groups.service import ConsumerGroups, GroupStatus, Handed

__all__ = ["ConsumerGroups", "GroupStatus", "Handed"]
