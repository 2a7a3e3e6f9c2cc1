"""setup/gpu_busy.py, the box's GPU report for the idle guard: against CloudWatch emulated by moto."""
import subprocess

import boto3
import pytest
from moto import mock_aws

from setup import gpu_busy

METADATA = {"meta-data/instance-id": "i-0123456789abcdef0", "meta-data/placement/region": "eu-central-1"}


@pytest.fixture
def cloudwatch(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="eu-central-1")


def smi(out):
    """A subprocess.run stand-in that answers as nvidia-smi would."""
    def run(cmd, **kw):
        assert cmd[0] == "nvidia-smi" and "--query-gpu=utilization.gpu" in cmd
        return subprocess.CompletedProcess(cmd, 0, stdout=out, stderr="")
    return run


def test_reports_the_busiest_gpu(cloudwatch, capsys):
    assert gpu_busy.main(metadata=METADATA.get, run=smi("12\n87\n"), client=cloudwatch) == 0
    (metric,) = cloudwatch.list_metrics(Namespace="dl1-kit")["Metrics"]
    assert metric["MetricName"] == "GPUUtilization"
    assert metric["Dimensions"] == [{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}]
    assert "GPU 87%" in capsys.readouterr().out


@pytest.mark.parametrize("run", [smi("[N/A]\n"), smi("")])
def test_unreadable_gpu_is_one_line_not_a_zero(cloudwatch, capsys, run):
    assert gpu_busy.main(metadata=METADATA.get, run=run, client=cloudwatch) == 1
    assert cloudwatch.list_metrics(Namespace="dl1-kit")["Metrics"] == []  # no made-up "idle" datapoint
    assert "CPU alone" in capsys.readouterr().err


def test_no_metadata_service_is_one_line(capsys):
    def unreachable(path):
        raise OSError("no route to 169.254.169.254")
    assert gpu_busy.main(metadata=unreachable, run=smi("5\n")) == 1
    assert "not reported" in capsys.readouterr().err
