"""Validation of the agent protocol's request bodies.

The serializers use the strict fields of the action layer: JSON types are
not coerced, numbers must be finite, and unknown fields are rejected with a
message naming them, so a typo in an agent shows up at once.
"""

from rest_framework import serializers

from centeros.actions.params import (
    ActionParams,
    JSONObjectField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictFloatField,
)
from fleet.agent.services import Fault, HeartbeatReport
from fleet.choices import AlertSeverity

MAX_FAULTS = 100
SEVERITY_RANK = {
    AlertSeverity.INFO: 0,
    AlertSeverity.WARNING: 1,
    AlertSeverity.CRITICAL: 2,
}


class FaultSerializer(ActionParams):
    code = StrictCharField(
        max_length=100, help_text="Stable identifier of the fault, such as 'E_MOTOR'."
    )
    severity = StrictChoiceField(choices=AlertSeverity.values)
    message = StrictCharField(
        max_length=1000, required=False, default="", allow_blank=True
    )


class ModelVersionField(serializers.Field):
    """The running model: its version id (integer) or a text such as 'pick:3'."""

    default_error_messages = {
        "invalid": "Must be a model version id (integer) or a text such as 'pick:3'."
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        text = str(data)
        if len(text) > 200:
            self.fail("invalid")
        return text

    def to_representation(self, value):
        return value


class HeartbeatSerializer(ActionParams):
    battery = StrictFloatField(
        min_value=0, max_value=100, required=False, allow_null=True, default=None
    )
    pose = JSONObjectField(required=False, default=dict, max_keys=50)
    software_version = StrictCharField(
        max_length=100, required=False, default="", allow_blank=True
    )
    model_version = ModelVersionField(required=False, allow_null=True, default=None)
    idle = StrictBooleanField(required=False, allow_null=True, default=None)
    estopped = StrictBooleanField(required=False, allow_null=True, default=None)
    faults = serializers.ListField(
        child=FaultSerializer(), required=False, default=list, max_length=MAX_FAULTS
    )


def heartbeat_report(data: dict) -> HeartbeatReport:
    """Build a report from validated heartbeat data.

    A fault code reported twice counts once, with its most severe report.
    """
    faults: dict[str, Fault] = {}
    for item in data["faults"]:
        fault = Fault(
            code=item["code"], severity=item["severity"], message=item["message"]
        )
        known = faults.get(fault.code)
        if (
            known is None
            or SEVERITY_RANK[fault.severity] > SEVERITY_RANK[known.severity]
        ):
            faults[fault.code] = fault
    return HeartbeatReport(
        battery=data["battery"],
        pose=data["pose"],
        software_version=data["software_version"],
        model_version=data["model_version"] or "",
        idle=data["idle"],
        estopped=data["estopped"],
        faults=list(faults.values()),
    )


class AckSerializer(ActionParams):
    status = StrictChoiceField(
        choices=["succeeded", "failed"], help_text="What became of the command."
    )
    message = StrictCharField(
        max_length=2000, required=False, default="", allow_blank=True
    )
