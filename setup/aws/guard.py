"""The idle guard: a CloudWatch alarm that stops (never terminates) a box whose CPU and GPU both idle.

The alarm lives in AWS, not on the box: it survives reboots and keeps watching a spot box that AWS
stopped and started again (the instance id stays the same). It watches the busier of EC2's own
CPUUtilization and the GPU utilization that setup/gpu_busy.py reports from the box each minute
through an instance profile that may only write metrics of the kit's namespace. A box that does
not report its GPU is judged by its CPU alone.
"""
from __future__ import annotations

import json
import math

from botocore.exceptions import ClientError

from setup.aws.base import TAG_KEY, tag_value

DEFAULT_IDLE_MINUTES = 60
PERIOD_S = 300  # EC2's free basic monitoring reports CPUUtilization every 5 minutes
# Percent. Training keeps a core busy feeding the GPU (25% of a 4-vCPU xlarge) and the GPU far
# busier; an idle Jupyter or shell stays under 1% CPU and 0% GPU.
IDLE_PERCENT = 2.0
METRIC_NAMESPACE = "dl1-kit"  # where setup/gpu_busy.py writes GPUUtilization
GPU_METRIC = "GPUUtilization"


def alarm_name(name: str, instance_id: str) -> str:
    """The idle alarm's name for one instance."""
    return f"{tag_value(name)} idle-stop {instance_id}"


def stop_action(region: str) -> str:
    """CloudWatch's built-in action that stops an EC2 instance (no IAM role needed)."""
    return f"arn:aws:automate:{region}:ec2:stop"


def busy_metrics(instance_id: str) -> list[dict]:
    """Metric math: per 5 minutes, the busier of the average CPU and the peak GPU (0 when not reported)."""
    dims = [{"Name": "InstanceId", "Value": instance_id}]

    def stat(metric_id, namespace, metric, statistic):
        return {"Id": metric_id, "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
            "Period": PERIOD_S, "Stat": statistic}}
    return [stat("cpu", "AWS/EC2", "CPUUtilization", "Average"),
            stat("gpu", METRIC_NAMESPACE, GPU_METRIC, "Maximum"),
            {"Id": "busy", "Expression": "MAX([cpu, FILL(gpu, 0)])", "Label": "busier of CPU and GPU, %",
             "ReturnData": True}]


def ensure_idle_alarm(cw, name: str, instance_id: str, region: str, minutes: int, gpu_watched: bool) -> str:
    """Create, update or (minutes == 0) delete the instance's idle alarm; return what it does now."""
    if minutes == 0:
        cw.delete_alarms(AlarmNames=[alarm_name(name, instance_id)])
        return guard_line(None, gpu_watched)
    periods = math.ceil(minutes * 60 / PERIOD_S)
    cw.put_metric_alarm(
        AlarmName=alarm_name(name, instance_id),
        AlarmDescription=(f"dl1-kit: stop {instance_id} after {minutes} idle minutes "
                          "(python -m setup.aws up --idle-stop)"),
        Metrics=busy_metrics(instance_id), EvaluationPeriods=periods, DatapointsToAlarm=periods,
        Threshold=IDLE_PERCENT, ComparisonOperator="LessThanThreshold",
        TreatMissingData="missing",  # a stopped box sends nothing: no action, and a fresh count after a start
        AlarmActions=[stop_action(region)], Tags=[{"Key": TAG_KEY, "Value": tag_value(name)}])
    return guard_line(idle_alarm(cw, name, instance_id), gpu_watched)


def idle_alarm(cw, name: str, instance_id: str) -> dict | None:
    """The instance's idle alarm as CloudWatch describes it, or None."""
    try:
        found = cw.describe_alarms(AlarmNames=[alarm_name(name, instance_id)])["MetricAlarms"]
    except ClientError:
        return None
    return found[0] if found else None


def alarm_minutes(alarm: dict) -> int:
    """How long the alarm waits, in minutes."""
    period = alarm.get("Period") or next(m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m)
    return period * alarm["EvaluationPeriods"] // 60


def guard_line(alarm: dict | None, gpu_watched: bool) -> str:
    """One line saying whether and when the idle guard stops the box, and what it watches."""
    if alarm is None:
        return "idle guard: OFF; nothing stops this box but you (`up --idle-stop 60` turns it on)"
    state = {"ALARM": " (idle now: stopping it)", "INSUFFICIENT_DATA": " (waiting for data)"}.get(
        alarm.get("StateValue"), "")
    # Without its instance profile the box cannot report its GPU, and the alarm counts it as idle.
    watched = ("CPU and GPU" if gpu_watched else
               "its CPU (its GPU is not watched: the box has no instance profile to report it)")
    return (f"idle guard: stops it after {alarm_minutes(alarm)} min with {watched} under "
            f"{alarm['Threshold']:g}%{state}; `up --idle-stop 0` turns it off")


def delete_idle_alarms(cw, name: str, instance_ids: list[str]) -> None:
    """Remove the idle alarms of these instances."""
    if instance_ids:
        cw.delete_alarms(AlarmNames=[alarm_name(name, i) for i in instance_ids])


# --- the instance profile that lets the box report its GPU ----------------------------------------

def profile_name(name: str, region: str) -> str:
    """The IAM role and instance profile of this name's box in this region (IAM is global)."""
    return f"{name}-{region}-metrics"


def ensure_metrics_profile(iam, name: str, region: str) -> str | None:
    """Reuse or create the role + instance profile that may only write the kit's metrics; None if refused."""
    role = profile_name(name, region)
    tags = [{"Key": TAG_KEY, "Value": tag_value(name)}]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "ec2.amazonaws.com"}}]}
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData",
              "Resource": "*", "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}}}]}
    try:
        profile = existing_profile(iam, role)
        if profile and [r["RoleName"] for r in profile["Roles"]] == [role]:
            return role
        try:
            iam.create_role(RoleName=role, Path="/dl1-kit/", AssumeRolePolicyDocument=json.dumps(trust),
                            Description="dl1-kit box: report GPU use for the idle guard", Tags=tags)
        except ClientError as err:
            if err.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
        iam.put_role_policy(RoleName=role, PolicyName="put-gpu-metric", PolicyDocument=json.dumps(policy))
        if profile is None:
            iam.create_instance_profile(InstanceProfileName=role, Path="/dl1-kit/", Tags=tags)
        # A profile without its role (an `up` stopped just before this) gives the box no right to report its GPU.
        iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
    except ClientError as err:  # e.g. no IAM rights: the guard then judges by CPU alone
        print(f"warning: could not create the IAM role {role} ({err.response['Error']['Code']}); "
              "the idle guard will judge the box by its CPU alone")
        return None
    if profile is None:
        print(f"Created IAM role and instance profile {role} (may only write {METRIC_NAMESPACE} metrics)")
    else:
        print(f"Added the role {role} back to its instance profile, so the box can report its GPU")
    return role


def existing_profile(iam, name: str) -> dict | None:
    """The instance profile as IAM describes it, or None when there is none."""
    try:
        return iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except ClientError as err:
        if err.response["Error"]["Code"] != "NoSuchEntity":
            raise
        return None


def attach_profile(ec2, inst: dict, profile: str | None) -> None:
    """Give a box made before the profile existed its instance profile."""
    if profile and not inst.get("IamInstanceProfile"):
        try:
            ec2.associate_iam_instance_profile(IamInstanceProfile={"Name": profile}, InstanceId=inst["InstanceId"])
        except ClientError as err:  # no iam:PassRole, or the profile is still too new for EC2
            print(f"warning: could not attach {profile} ({err.response['Error']['Code']}); "
                  "the idle guard judges the box by its CPU alone until the next `up`")
            return
        print(f"Attached instance profile {profile} to {inst['InstanceId']}")


def delete_metrics_profile(iam, name: str, region: str) -> None:
    """Remove the role and instance profile, if they exist."""
    role = profile_name(name, region)
    steps = [lambda: iam.remove_role_from_instance_profile(InstanceProfileName=role, RoleName=role),
             lambda: iam.delete_instance_profile(InstanceProfileName=role),
             lambda: iam.delete_role_policy(RoleName=role, PolicyName="put-gpu-metric"),
             lambda: iam.delete_role(RoleName=role)]
    gone = False
    for step in steps:
        try:
            step()
            gone = True
        except ClientError as err:
            if err.response["Error"]["Code"] != "NoSuchEntity":
                raise
    if gone:
        print(f"Removed IAM role and instance profile {role}")
