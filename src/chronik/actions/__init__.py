"""Actions: tenants' JavaScript run in a sandbox at the triggers of flows (before and after
an append, when a schedule fires), with an execution record of every run."""

from chronik.actions.execution import ActionFailed, Executor
from chronik.actions.listing import ActionList
from chronik.actions.model import FLOW_TYPES, Action, Binding, Flow
from chronik.actions.runtime import HttpPolicy, Limits, Run, Runtime
from chronik.actions.search import ActionQuery, NameQuery
from chronik.actions.service import Actions

__all__ = [
    "FLOW_TYPES",
    "Action",
    "ActionFailed",
    "ActionList",
    "ActionQuery",
    "Actions",
    "Binding",
    "Executor",
    "Flow",
    "HttpPolicy",
    "Limits",
    "NameQuery",
    "Run",
    "Runtime",
]
