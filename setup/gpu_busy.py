#!/usr/bin/env python3
"""On the GPU box: report how busy the GPU is to CloudWatch, for the idle guard.

setup/install-gpu.sh installs a systemd timer that runs this every minute, from boot on (so also
after AWS restarts a spot box). The CloudWatch alarm that `python -m setup.aws up` sets stops the
box when this metric and the CPU have both stayed low for --idle-stop minutes; the box itself
never shuts down. Credentials come from the box's instance profile, which may only write the
kit's own metrics.
"""
import subprocess
import sys
import urllib.request

from setup.aws.guard import GPU_METRIC, METRIC_NAMESPACE

IMDS = "http://169.254.169.254/latest"


def imds(path: str, timeout: float = 2.0) -> str:
    """One value from the instance metadata service (IMDSv2: a session token first)."""
    put = urllib.request.Request(f"{IMDS}/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    with urllib.request.urlopen(put, timeout=timeout) as resp:  # noqa: S310 (fixed link-local URL)
        token = resp.read().decode()
    get = urllib.request.Request(f"{IMDS}/{path}", headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(get, timeout=timeout) as resp:  # noqa: S310
        return resp.read().decode().strip()


def gpu_utilization(run=subprocess.run) -> float:
    """The busiest GPU's utilization in percent, as nvidia-smi reports it."""
    out = run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
              capture_output=True, text=True, check=True, timeout=30).stdout
    values = [float(v) for v in out.split() if v.replace(".", "", 1).isdigit()]
    if not values:
        raise ValueError(f"nvidia-smi reported no GPU utilization: {out!r}")
    return max(values)


def publish(cw, instance_id: str, percent: float) -> None:
    """Write one GPUUtilization datapoint for this instance."""
    cw.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=[{
        "MetricName": GPU_METRIC, "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
        "Value": percent, "Unit": "Percent"}])


def main(*, metadata=imds, run=subprocess.run, client=None) -> int:
    """Measure and report once; one line on failure (the systemd journal keeps it)."""
    try:
        import boto3  # the report of a missing boto3 is this script's own
        instance_id = metadata("meta-data/instance-id")
        region = metadata("meta-data/placement/region")
        percent = gpu_utilization(run)
        cw = client or boto3.client("cloudwatch", region_name=region)
        publish(cw, instance_id, percent)
    except Exception as err:  # noqa: BLE001 (any failure: say it in one line, try again next minute)
        print(f"gpu_busy: not reported ({type(err).__name__}: {err}); the idle guard judges by CPU alone",
              file=sys.stderr)
        return 1
    print(f"gpu_busy: {instance_id} GPU {percent:g}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
