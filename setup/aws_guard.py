"""The idle guard: a CloudWatch alarm that stops (never terminates) a box left idle.

The alarm lives in AWS, not on the box: it needs no credentials there, survives reboots, and keeps
watching a spot box that AWS stopped and started again (the instance id stays the same).
"""
from __future__ import annotations

import math

from botocore.exceptions import ClientError

from aws_base import TAG_KEY, tag_value

DEFAULT_IDLE_MINUTES = 60
PERIOD_S = 300  # EC2's free basic monitoring reports CPUUtilization every 5 minutes
# Percent of the whole box's CPU. Training keeps a core busy feeding the GPU (Python, tf.data,
# JPEG decoding), i.e. 25% of a 4-vCPU xlarge; an idle Jupyter or shell stays under 1%.
IDLE_CPU_PERCENT = 2.0


def alarm_name(name: str, instance_id: str) -> str:
    """The idle alarm's name for one instance."""
    return f"{tag_value(name)} idle-stop {instance_id}"


def stop_action(region: str) -> str:
    """CloudWatch's built-in action that stops an EC2 instance (no IAM role needed)."""
    return f"arn:aws:automate:{region}:ec2:stop"


def ensure_idle_alarm(cw, name: str, instance_id: str, region: str, minutes: int) -> str:
    """Create, update or (minutes == 0) delete the instance's idle alarm; return what it does now."""
    if minutes == 0:
        cw.delete_alarms(AlarmNames=[alarm_name(name, instance_id)])
        return guard_line(None)
    periods = math.ceil(minutes * 60 / PERIOD_S)
    cw.put_metric_alarm(
        AlarmName=alarm_name(name, instance_id),
        AlarmDescription=f"dl1-kit: stop {instance_id} after {minutes} idle minutes (setup/aws.py up --idle-stop)",
        Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
        Statistic="Average", Period=PERIOD_S, EvaluationPeriods=periods, DatapointsToAlarm=periods,
        Threshold=IDLE_CPU_PERCENT, ComparisonOperator="LessThanThreshold",
        TreatMissingData="missing",  # a stopped box sends nothing: no action, and a fresh count after a start
        AlarmActions=[stop_action(region)], Tags=[{"Key": TAG_KEY, "Value": tag_value(name)}])
    return guard_line({"Period": PERIOD_S, "EvaluationPeriods": periods, "Threshold": IDLE_CPU_PERCENT,
                       "StateValue": "OK"})


def idle_alarm(cw, name: str, instance_id: str) -> dict | None:
    """The instance's idle alarm as CloudWatch describes it, or None."""
    try:
        found = cw.describe_alarms(AlarmNames=[alarm_name(name, instance_id)])["MetricAlarms"]
    except ClientError:
        return None
    return found[0] if found else None


def guard_line(alarm: dict | None) -> str:
    """One line saying whether and when the idle guard stops the box."""
    if alarm is None:
        return ("idle guard: OFF; nothing stops this box but you "
                "(`up --idle-stop 60` turns it on)")
    minutes = alarm["Period"] * alarm["EvaluationPeriods"] // 60
    state = {"ALARM": " (idle now: stopping it)", "INSUFFICIENT_DATA": " (waiting for CPU data)"}.get(
        alarm.get("StateValue"), "")
    return (f"idle guard: stops it after {minutes} min with CPU under {alarm['Threshold']:g}%"
            f"{state}; `up --idle-stop 0` turns it off")


def delete_idle_alarms(cw, name: str, instance_ids: list[str]) -> None:
    """Remove the idle alarms of these instances."""
    if instance_ids:
        cw.delete_alarms(AlarmNames=[alarm_name(name, i) for i in instance_ids])
