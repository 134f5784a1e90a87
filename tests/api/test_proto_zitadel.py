"""The ``.proto`` definitions carry ZITADEL's own names and numbers, so that stubs generated from
ZITADEL's protos reach Chronik's RPCs and read its messages unchanged.

The expected values are transcribed from ZITADEL's ``proto/zitadel/*.proto`` (the commits are
named in the header of each of Chronik's ``.proto`` files)."""

from __future__ import annotations

from typing import Any, cast

import grpc
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from chronik.api.proto.zitadel import (
    action_pb2,
    admin_pb2,
    admin_pb2_grpc,
    event_pb2,
    management_pb2,
    management_pb2_grpc,
    object_pb2,
)

ADMIN = "/zitadel.admin.v1.AdminService/"
MANAGEMENT = "/zitadel.management.v1.ManagementService/"
ADMIN_RPCS = [
    "ListViews",
    "ListFailedEvents",
    "RemoveFailedEvent",
    "ListEventTypes",
    "ListEvents",
    "ListAggregateTypes",
]
MANAGEMENT_RPCS = [
    "ListActions",
    "GetAction",
    "CreateAction",
    "UpdateAction",
    "DeactivateAction",
    "ReactivateAction",
    "DeleteAction",
    "ListFlowTypes",
    "ListFlowTriggerTypes",
    "GetFlow",
    "ClearFlow",
    "SetTriggerActions",
]


class _RecordingChannel:
    """Records the method paths a generated client stub binds, as a real channel would see."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.paths.append(method)


def _paths(service: Any) -> set[str]:
    return {f"/{m.containing_service.full_name}/{m.name}" for m in service.methods}


def test_services_define_exactly_the_rpcs_chronik_serves_under_zitadels_method_paths() -> None:
    admin = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]
    management = management_pb2.DESCRIPTOR.services_by_name["ManagementService"]
    assert _paths(admin) == {ADMIN + name for name in ADMIN_RPCS}
    assert _paths(management) == {MANAGEMENT + name for name in MANAGEMENT_RPCS}


def test_generated_client_stubs_call_zitadels_method_paths() -> None:
    admin, management = _RecordingChannel(), _RecordingChannel()
    admin_pb2_grpc.AdminServiceStub(cast(grpc.Channel, admin))
    management_pb2_grpc.ManagementServiceStub(cast(grpc.Channel, management))
    assert sorted(admin.paths) == sorted(ADMIN + name for name in ADMIN_RPCS)
    assert sorted(management.paths) == sorted(MANAGEMENT + name for name in MANAGEMENT_RPCS)


def test_each_rpc_takes_and_returns_its_own_zitadel_messages() -> None:
    for module, service in ((admin_pb2, "AdminService"), (management_pb2, "ManagementService")):
        for method in module.DESCRIPTOR.services_by_name[service].methods:
            package = module.DESCRIPTOR.package
            assert method.input_type.full_name == f"{package}.{method.name}Request"
            assert method.output_type.full_name == f"{package}.{method.name}Response"


_SCALARS = {
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
}


def _fields(message: Descriptor) -> dict[str, tuple[int, str]]:
    """Each field's number and type as a .proto file spells it (``repeated`` included)."""
    found = {}
    for f in message.fields:
        if f.message_type is not None:
            kind = f.message_type.full_name
        elif f.enum_type is not None:
            kind = f.enum_type.full_name
        else:
            kind = _SCALARS[f.type]
        found[f.name] = (f.number, f"repeated {kind}" if f.is_repeated else kind)
    return found


TS = "google.protobuf.Timestamp"


def test_list_events_request_has_zitadels_fields_and_creation_date_filter_oneof() -> None:
    message = admin_pb2.ListEventsRequest.DESCRIPTOR
    assert _fields(message) == {
        "sequence": (1, "uint64"),
        "limit": (2, "uint32"),
        "asc": (3, "bool"),
        "editor_user_id": (4, "string"),
        "event_types": (5, "repeated string"),
        "aggregate_id": (6, "string"),
        "aggregate_types": (7, "repeated string"),
        "resource_owner": (8, "string"),
        "creation_date": (9, TS),
        "range": (10, "zitadel.admin.v1.ListEventsRequest.creation_date_range"),
        "from": (11, TS),
    }
    oneof = message.oneofs_by_name["creation_date_filter"]
    assert [f.name for f in oneof.fields] == ["range", "from"]
    assert _fields(message.nested_types_by_name["creation_date_range"]) == {
        "since": (1, TS),
        "until": (2, TS),
    }


def test_event_messages_have_zitadels_fields() -> None:
    assert _fields(event_pb2.Event.DESCRIPTOR) == {
        "editor": (1, "zitadel.event.v1.Editor"),
        "aggregate": (2, "zitadel.event.v1.Aggregate"),
        "sequence": (3, "uint64"),
        "creation_date": (4, TS),
        "payload": (5, "google.protobuf.Struct"),
        "type": (6, "zitadel.event.v1.EventType"),
    }
    assert _fields(event_pb2.Editor.DESCRIPTOR) == {
        "user_id": (1, "string"),
        "display_name": (2, "string"),
        "service": (3, "string"),
    }
    assert _fields(event_pb2.Aggregate.DESCRIPTOR) == {
        "id": (1, "string"),
        "type": (2, "zitadel.event.v1.AggregateType"),
        "resource_owner": (3, "string"),
    }
    assert _fields(event_pb2.EventType.DESCRIPTOR) == {
        "type": (1, "string"),
        "localized": (2, "zitadel.v1.LocalizedMessage"),
    }


def test_view_and_failed_event_messages_have_zitadels_fields() -> None:
    assert _fields(admin_pb2.View.DESCRIPTOR) == {
        "database": (1, "string"),
        "view_name": (2, "string"),
        "processed_sequence": (3, "uint64"),
        "event_timestamp": (4, TS),
        "last_successful_spooler_run": (5, TS),
    }
    assert _fields(admin_pb2.FailedEvent.DESCRIPTOR) == {
        "database": (1, "string"),
        "view_name": (2, "string"),
        "failed_sequence": (3, "uint64"),
        "failure_count": (4, "uint64"),
        "error_message": (5, "string"),
        "last_failed": (6, TS),
    }
    assert _fields(admin_pb2.RemoveFailedEventRequest.DESCRIPTOR) == {
        "database": (1, "string"),
        "view_name": (2, "string"),
        "failed_sequence": (3, "uint64"),
    }


def test_action_messages_have_zitadels_fields() -> None:
    details = "zitadel.v1.ObjectDetails"
    assert _fields(action_pb2.Action.DESCRIPTOR) == {
        "id": (1, "string"),
        "details": (2, details),
        "state": (3, "zitadel.action.v1.ActionState"),
        "name": (4, "string"),
        "script": (5, "string"),
        "timeout": (6, "google.protobuf.Duration"),
        "allowed_to_fail": (7, "bool"),
    }
    assert _fields(management_pb2.ListActionsRequest.DESCRIPTOR) == {
        "query": (1, "zitadel.v1.ListQuery"),
        "sorting_column": (2, "zitadel.action.v1.ActionFieldName"),
        "queries": (3, "repeated zitadel.management.v1.ActionQuery"),
    }
    query = management_pb2.ActionQuery.DESCRIPTOR
    assert [(f.name, f.number) for f in query.oneofs_by_name["query"].fields] == [
        ("action_id_query", 1),
        ("action_name_query", 2),
        ("action_state_query", 3),
    ]
    assert _fields(management_pb2.CreateActionRequest.DESCRIPTOR) == {
        "name": (1, "string"),
        "script": (2, "string"),
        "timeout": (3, "google.protobuf.Duration"),
        "allowed_to_fail": (4, "bool"),
    }
    assert _fields(management_pb2.CreateActionResponse.DESCRIPTOR) == {
        "details": (1, details),
        "id": (2, "string"),
    }
    assert _fields(management_pb2.SetTriggerActionsRequest.DESCRIPTOR) == {
        "flow_type": (1, "string"),
        "trigger_type": (2, "string"),
        "action_ids": (3, "repeated string"),
    }
    assert _fields(action_pb2.TriggerAction.DESCRIPTOR) == {
        "trigger_type": (1, "zitadel.action.v1.TriggerType"),
        "actions": (2, "repeated zitadel.action.v1.Action"),
    }


def test_object_messages_have_zitadels_fields() -> None:
    assert _fields(object_pb2.ObjectDetails.DESCRIPTOR) == {
        "sequence": (1, "uint64"),
        "creation_date": (2, TS),
        "change_date": (3, TS),
        "resource_owner": (4, "string"),
    }
    assert _fields(object_pb2.ListQuery.DESCRIPTOR) == {
        "offset": (1, "uint64"),
        "limit": (2, "uint32"),
        "asc": (3, "bool"),
    }
    assert _fields(object_pb2.ListDetails.DESCRIPTOR) == {
        "total_result": (1, "uint64"),
        "processed_sequence": (2, "uint64"),
        "view_timestamp": (3, TS),
    }


def test_answers_zitadel_sends_empty_have_no_fields() -> None:
    assert management_pb2.DeleteActionResponse.DESCRIPTOR.fields == []
    assert admin_pb2.RemoveFailedEventResponse.DESCRIPTOR.fields == []


def _values(enum: EnumDescriptor) -> dict[str, int]:
    return {v.name: v.number for v in enum.values}


def test_enums_have_zitadels_values() -> None:
    assert _values(action_pb2.DESCRIPTOR.enum_types_by_name["ActionState"]) == {
        "ACTION_STATE_UNSPECIFIED": 0,
        "ACTION_STATE_INACTIVE": 1,
        "ACTION_STATE_ACTIVE": 2,
    }
    assert _values(action_pb2.DESCRIPTOR.enum_types_by_name["ActionFieldName"]) == {
        "ACTION_FIELD_NAME_UNSPECIFIED": 0,
        "ACTION_FIELD_NAME_NAME": 1,
        "ACTION_FIELD_NAME_ID": 2,
        "ACTION_FIELD_NAME_STATE": 3,
    }
    assert _values(action_pb2.DESCRIPTOR.enum_types_by_name["FlowState"]) == {
        "FLOW_STATE_UNSPECIFIED": 0,
        "FLOW_STATE_INACTIVE": 1,
        "FLOW_STATE_ACTIVE": 2,
    }
    assert _values(object_pb2.DESCRIPTOR.enum_types_by_name["TextQueryMethod"]) == {
        "TEXT_QUERY_METHOD_EQUALS": 0,
        "TEXT_QUERY_METHOD_EQUALS_IGNORE_CASE": 1,
        "TEXT_QUERY_METHOD_STARTS_WITH": 2,
        "TEXT_QUERY_METHOD_STARTS_WITH_IGNORE_CASE": 3,
        "TEXT_QUERY_METHOD_CONTAINS": 4,
        "TEXT_QUERY_METHOD_CONTAINS_IGNORE_CASE": 5,
        "TEXT_QUERY_METHOD_ENDS_WITH": 6,
        "TEXT_QUERY_METHOD_ENDS_WITH_IGNORE_CASE": 7,
    }


def test_messages_encode_to_the_bytes_a_zitadel_client_decodes() -> None:
    # Tag bytes are (field number << 3) | wire type: what a ZITADEL stub expects on the wire.
    search = admin_pb2.ListEventsRequest(sequence=5, limit=2, asc=True)
    assert search.SerializeToString() == b"\x08\x05\x10\x02\x18\x01"
    action = action_pb2.Action(id="a", state=action_pb2.ACTION_STATE_ACTIVE, allowed_to_fail=True)
    assert action.SerializeToString() == b"\x0a\x01a\x18\x02\x38\x01"


def test_a_sequence_above_the_signed_64_bit_range_is_valid() -> None:
    wire = admin_pb2.ListEventsRequest(sequence=2**64 - 1).SerializeToString()
    assert admin_pb2.ListEventsRequest.FromString(wire).sequence == 2**64 - 1
