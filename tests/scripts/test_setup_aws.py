"""setup/aws/ (`python -m setup.aws`) against AWS emulated in-process by moto: lifecycle, idempotence,
safety, errors."""
import functools
import json
import shlex
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends

from setup.aws import base, box, cli, network, price

ROOT = Path(__file__).resolve().parents[2]

MY_IP = "203.0.113.7"
PRICE = 1.006  # g5.xlarge on demand in us-east-1, USD/hour
TAG = [{"Name": "tag:Project", "Values": ["dl1-kit:dl1-kit"]}]
TEST_PARAM = "/dl1-kit-test/deeplearning-base-gpu/ami-id"  # moto refuses to store names under /aws/


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch, tmp_path):
    """Fake credentials, no real AWS config, no instance-metadata lookups."""
    for var in ("AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # skip ~1300 stock images per region: faster


@pytest.fixture
def moto():
    with mock_aws():
        yield


@pytest.fixture
def keys(tmp_path):
    return tmp_path / "keys"


@functools.cache
def session(region):
    """One boto3 session per region, so botocore loads its models once per run."""
    return boto3.Session(region_name=region)


def ec2(region):
    return session(region).client("ec2")


class Runner:
    """Calls cli.main with injected session, IP lookup and prompt; collects all output."""

    def __init__(self, capsys, keys):
        self.capsys, self.keys, self.seen, self.prompts = capsys, keys, "", []

    def __call__(self, region, *argv, ip=MY_IP, confirm=True, cost=PRICE, **kw):
        def fetch_ip():
            if isinstance(ip, Exception):
                raise ip
            return ip

        def ask(prompt):
            self.prompts.append(prompt)
            return confirm
        kw.setdefault("session", session(region))
        kw.setdefault("price", lambda *a: cost)  # the Pricing API is not emulated by moto
        code = cli.main(["--region", region, "--key-dir", str(self.keys), *argv],
                        fetch_ip=fetch_ip, confirm=ask, **kw)
        out = self.capsys.readouterr()
        self.seen += out.out + out.err
        return code, out.out, out.err


@pytest.fixture
def run(capsys, keys):
    return Runner(capsys, keys)


def register_dlami(region, name, created):
    """Register an image that looks like an Amazon-owned Deep Learning Base AMI."""
    image_id = ec2(region).register_image(Name=name, RootDeviceName="/dev/sda1",
                                          Architecture="x86_64")["ImageId"]
    image = ec2_backends[DEFAULT_ACCOUNT_ID][region].amis[image_id]
    image.owner_alias = "amazon"  # registered images belong to the test account otherwise
    image.architecture = "x86_64"  # moto's register_image drops Architecture
    image.creation_date = created
    return image_id


def provide_ami(region, how, monkeypatch):
    """Make an AMI findable the given way; return (extra `up` args, expected AMI id)."""
    if how == "ssm":
        image_id = register_dlami(region, "dl1-kit test image", datetime(2025, 1, 1, tzinfo=timezone.utc))
        monkeypatch.setattr(box, "AMI_PARAMS", ("/dl1-kit-test/not-there", TEST_PARAM))
        session(region).client("ssm").put_parameter(Name=TEST_PARAM, Value=image_id, Type="String")
        return [], image_id
    if how == "images":  # the newest 24.04 image wins, even over a newer 22.04 one
        base = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu {})"
        register_dlami(region, base.format("24.04") + " 20250101", datetime(2025, 1, 1, tzinfo=timezone.utc))
        newest = register_dlami(region, base.format("24.04") + " 20250601", datetime(2025, 6, 1, tzinfo=timezone.utc))
        register_dlami(region, base.format("24.04") + " 20250301", datetime(2025, 3, 1, tzinfo=timezone.utc))
        register_dlami(region, base.format("22.04") + " 20250901", datetime(2025, 9, 1, tzinfo=timezone.utc))
        register_dlami(region, "Deep Learning AMI GPU PyTorch 2.7 (Ubuntu 24.04) 20251001",
                       datetime(2025, 10, 1, tzinfo=timezone.utc))  # another DLAMI family: not ours
        return [], newest
    image_id = register_dlami(region, "my own image", datetime(2025, 1, 1, tzinfo=timezone.utc))
    return ["--ami", image_id], image_id


def drop_default_vpc(region):
    """Delete the region's default VPC, as some accounts have."""
    client = ec2(region)
    for subnet in client.describe_subnets()["Subnets"]:
        client.delete_subnet(SubnetId=subnet["SubnetId"])
    for vpc in client.describe_vpcs()["Vpcs"]:
        client.delete_vpc(VpcId=vpc["VpcId"])


def tagged_instances(region, states=("pending", "running", "stopping", "stopped")):
    filters = TAG + [{"Name": "instance-state-name", "Values": list(states)}]
    return [i for r in ec2(region).describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]]


def counts(region):
    client = ec2(region)
    return {
        "instances": len(tagged_instances(region)),
        "groups": len(client.describe_security_groups(Filters=TAG)["SecurityGroups"]),
        "keys": len(client.describe_key_pairs(Filters=TAG)["KeyPairs"]),
        "vpcs": len(client.describe_vpcs()["Vpcs"]),
        "tagged vpcs": len(client.describe_vpcs(Filters=TAG)["Vpcs"]),
        "tagged subnets": len(client.describe_subnets(Filters=TAG)["Subnets"]),
        "tagged igws": len(client.describe_internet_gateways(Filters=TAG)["InternetGateways"]),
    }


@pytest.mark.parametrize("region,ami_source,default_vpc", [
    ("ap-northeast-1", "ssm", True),
    ("eu-central-1", "images", True),
    ("sa-east-1", "flag", False),
])
def test_lifecycle(moto, run, keys, monkeypatch, region, ami_source, default_vpc):
    if not default_vpc:
        drop_default_vpc(region)
        ec2(region).create_vpc(CidrBlock="172.31.0.0/16")  # someone else's, untagged
    vpc_ids = [v["VpcId"] for v in ec2(region).describe_vpcs()["Vpcs"]]
    mine = ec2(region).create_security_group(GroupName="not-the-kit", Description="untagged",
                                             VpcId=vpc_ids[0])["GroupId"]
    extra, ami = provide_ami(region, ami_source, monkeypatch)

    code, out, err = run(region, "up", *extra)
    assert code == 0, err
    first = counts(region)
    assert first["instances"] == first["groups"] == first["keys"] == 1
    expect_own = 0 if default_vpc else 1
    assert first["tagged vpcs"] == first["tagged subnets"] == first["tagged igws"] == expect_own
    (inst,) = tagged_instances(region)
    assert inst["ImageId"] == ami and inst["InstanceType"] == "g5.xlarge"
    assert inst["State"]["Name"] == "running"
    assert inst["Placement"]["AvailabilityZone"] in box.offered_zones(ec2(region), "g5.xlarge")
    assert "stop" in out

    pem = keys / f"dl1-kit-{region}.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    secret = pem.read_text()
    assert "PRIVATE KEY" in secret
    body = [line for line in secret.splitlines() if line and "PRIVATE KEY" not in line]

    code, out, err = run(region, "up", *extra)
    assert code == 0, err
    assert counts(region) == first
    assert tagged_instances(region)[0]["InstanceId"] == inst["InstanceId"]
    assert "Created" not in out

    (group,) = ec2(region).describe_security_groups(Filters=TAG)["SecurityGroups"]
    assert len(group["IpPermissions"]) == 1
    rule = group["IpPermissions"][0]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 22, 22)
    assert [r["CidrIp"] for r in rule["IpRanges"]] == [f"{MY_IP}/32"]
    assert not rule.get("Ipv6Ranges") and not rule.get("UserIdGroupPairs")

    ip = tagged_instances(region)[0]["PublicIpAddress"]
    code, out, _ = run(region, "status")
    assert code == 0 and "running" in out and "g5.xlarge" in out and ip in out
    assert f"ssh -i {pem}" in out and f"ubuntu@{ip}" in out

    _, out, _ = run(region, "ssh", "--print")
    assert shlex.split(out) == ["ssh", "-i", str(pem), "-o", "StrictHostKeyChecking=accept-new", f"ubuntu@{ip}"]
    _, out, _ = run(region, "tunnel", "--print")
    cmd = shlex.split(out)
    assert cmd[:3] == ["ssh", "-i", str(pem)] and cmd[-1] == f"ubuntu@{ip}"
    assert "-N" in cmd and cmd[cmd.index("-L") + 1] == "8888:localhost:8888"

    assert run(region, "stop")[0] == 0
    assert tagged_instances(region)[0]["State"]["Name"] == "stopped"
    assert "stopped" in run(region, "status")[1]
    assert run(region, "ssh", "--print")[0] == 1
    assert run(region, "start")[0] == 0
    assert tagged_instances(region)[0]["State"]["Name"] == "running"

    code, out, _ = run(region, "down", confirm=False)
    assert code == 1 and counts(region) == first

    code, out, err = run(region, "down", "--yes")
    assert code == 0, err
    left = counts(region)
    assert left["instances"] == left["groups"] == left["keys"] == 0
    assert left["tagged vpcs"] == left["tagged subnets"] == left["tagged igws"] == 0
    assert [i["State"]["Name"] for i in tagged_instances(region, ("terminated",))] == ["terminated"]
    assert ec2(region).describe_security_groups(GroupIds=[mine])["SecurityGroups"]
    assert sorted(v["VpcId"] for v in ec2(region).describe_vpcs()["Vpcs"]) == sorted(vpc_ids)
    assert not pem.exists()
    assert run(region, "down", "--yes")[0] == 0
    assert "No dl1-kit instance" in run(region, "status")[1]

    assert "0.0.0.0/0" not in run.seen
    assert secret not in run.seen and not any(line in run.seen for line in body)


def test_up_tightens_rule_when_address_changes(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    assert run(region, "up", *extra)[0] == 0
    assert run(region, "up", "--cidr", "198.51.100.0/24", *extra)[0] == 0
    (group,) = ec2(region).describe_security_groups(Filters=TAG)["SecurityGroups"]
    assert [[r["CidrIp"] for r in p["IpRanges"]] for p in group["IpPermissions"]] == [["198.51.100.0/24"]]
    assert len(tagged_instances(region)) == 1


def test_spot(moto, run):
    region = "ap-northeast-1"
    extra, _ = provide_ami(region, "flag", None)
    assert run(region, "up", "--spot", *extra)[0] == 0
    (inst,) = tagged_instances(region)
    assert inst.get("InstanceLifecycle") == "spot"


def test_missing_private_key_is_reported(moto, run, keys):
    region = "ap-northeast-1"
    extra, _ = provide_ami(region, "flag", None)
    assert run(region, "up", *extra)[0] == 0
    (keys / f"dl1-kit-{region}.pem").unlink()
    code, _, err = run(region, "up", *extra)
    assert code == 1 and "exists in AWS" in err and "missing" in err
    assert "Traceback" not in err
    assert counts(region)["keys"] == 1


def test_no_credentials(run, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, out, err = run("eu-central-1", "status", session=None)  # a fresh session, as from the shell
    assert code == 1 and "No AWS credentials" in err and "aws configure" in err
    assert "Traceback" not in err


def test_no_region(run, monkeypatch, keys):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code = cli.main(["--key-dir", str(keys), "status"])
    err = run.capsys.readouterr().err
    assert code == 1 and "--region" in err


def test_type_not_offered(moto, run):
    region = "sa-east-1"
    extra, _ = provide_ami(region, "flag", None)
    code, _, err = run(region, "up", "--type", "x9gpu.xlarge", *extra)
    assert code == 1 and "not offered in sa-east-1" in err
    assert "g5.xlarge" in err and "--region" in err
    c = counts(region)
    assert c["instances"] == c["groups"] == c["keys"] == 0


def test_ami_not_found(moto, run):
    code, _, err = run("eu-central-1", "up", "--ami", "ami-0123456789abcdef0")
    assert code == 1 and "not found" in err


def test_no_dlami_in_region(moto, run):
    code, _, err = run("ap-northeast-1", "up")  # no SSM parameter, no matching image
    assert code == 1 and "Deep Learning Base" in err and "--ami" in err
    assert counts("ap-northeast-1")["instances"] == 0


class RefusingSession:
    """A boto3 session whose EC2 client's run_instances fails with the given error code."""

    def __init__(self, region, code):
        self.inner, self.region_name, self.code = session(region), region, code

    def __getattr__(self, attr):
        return getattr(self.inner, attr)

    def client(self, service, **kw):
        client = self.inner.client(service, **kw)
        if service == "ec2":
            def refuse(**_):
                raise ClientError({"Error": {"Code": self.code, "Message": "refused"}}, "RunInstances")
            client.run_instances = refuse
        return client


@pytest.mark.parametrize("code,spot,quota", [
    ("VcpuLimitExceeded", False, "Running On-Demand G and VT instances"),
    ("VcpuLimitExceeded", True, "All G and VT Spot Instance Requests"),
    ("InsufficientInstanceCapacity", False, "Running On-Demand G and VT instances"),
])
def test_quota_errors(moto, run, code, spot, quota):
    region = "ap-northeast-1"
    extra, _ = provide_ami(region, "flag", None)
    args = ["up", *extra] + (["--spot"] if spot else [])
    rc, _, err = run(region, *args, session=RefusingSession(region, code))
    assert rc == 1 and "Traceback" not in err
    assert "quota" in err and "Service Quotas" in err and quota in err and region in err
    if code == "InsufficientInstanceCapacity":
        assert "capacity" in err
    assert counts(region)["instances"] == 0


@pytest.mark.parametrize("failure", [OSError("network unreachable"), "<html>blocked</html>"])
def test_ip_detection_failure(moto, run, failure):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    code, out, err = run(region, "up", *extra, ip=failure)
    assert code == 1 and "--cidr" in err and "public IP" in err
    assert "0.0.0.0/0" not in out + err
    assert counts(region)["groups"] == 0


def test_open_world_cidr_refused(moto, run):
    code, out, err = run("eu-central-1", "up", "--cidr", "0.0.0.0/0", "--ami", "ami-x")
    assert code == 1 and "whole internet" in err
    assert counts("eu-central-1")["groups"] == 0


def test_ssh_execs(moto, run, monkeypatch):
    region = "ap-northeast-1"
    extra, _ = provide_ami(region, "flag", None)
    run(region, "up", *extra)
    calls = []
    monkeypatch.setattr(cli.os, "execvp", lambda prog, argv: calls.append(argv))
    assert run(region, "tunnel")[0] == 0
    assert calls and calls[0][0] == "ssh" and "8888:localhost:8888" in calls[0]


def test_fetch_public_ip(monkeypatch):
    seen = {}

    class Answer:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n):
            return b"198.51.100.23\n"

    def fake_urlopen(url, timeout):
        seen.update(url=url, timeout=timeout)
        return Answer()

    monkeypatch.setattr(network.urllib.request, "urlopen", fake_urlopen)
    assert network.ssh_cidr(None) == "198.51.100.23/32"
    assert seen["url"] == "https://checkip.amazonaws.com" and seen["timeout"] <= 10


def test_hourly_price_parses_or_skips():
    product = {"terms": {"OnDemand": {"t": {"priceDimensions": {"d": {"pricePerUnit": {"USD": "1.0060000000"}}}}}}}

    class Pricing:
        def get_products(self, **kw):
            assert {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-central-1"} in kw["Filters"]
            return {"PriceList": [json.dumps(product)]}

    class Session:
        def __init__(self, client):
            self.c = client

        def client(self, service, **kw):
            assert service == "pricing" and kw["region_name"] == "us-east-1"
            return self.c

    assert price.on_demand_price(Session(Pricing()), "g5.xlarge", "eu-central-1") == pytest.approx(1.006)
    assert price.on_demand_price(Session(object()), "g5.xlarge", "eu-central-1") is None


def test_missing_ssh_client(moto, run, monkeypatch):
    region = "ap-northeast-1"
    extra, _ = provide_ami(region, "flag", None)
    run(region, "up", *extra)

    def no_ssh(prog, argv):
        raise FileNotFoundError(2, "No such file or directory")
    monkeypatch.setattr(cli.os, "execvp", no_ssh)
    code, _, err = run(region, "ssh")
    assert code == 1 and "OpenSSH" in err and "Traceback" not in err


def test_bad_name_rejected():
    with pytest.raises(SystemExit) as exc:
        cli.main(["--name", "../evil", "status"])
    assert exc.value.code == 2


def test_help():
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0


class RecordingSession:
    """A boto3 session whose EC2 client records run_instances' arguments."""

    def __init__(self, region):
        self.inner, self.region_name, self.launches = session(region), region, []

    def __getattr__(self, attr):
        return getattr(self.inner, attr)

    def client(self, service, **kw):
        client = self.inner.client(service, **kw)
        if service == "ec2":
            real = client.run_instances

            def recorded(**args):
                self.launches.append(args)
                return real(**args)
            client.run_instances = recorded
        return client


# --- guards against surprise bills and lost access --------------------------------------------------

def idle_alarms(region):
    return boto3.client("cloudwatch", region_name=region).describe_alarms()["MetricAlarms"]


def test_idle_guard_is_a_cloudwatch_stop_alarm_on_cpu_and_gpu(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    assert run(region, "up", *extra)[0] == 0
    (inst,) = tagged_instances(region)
    (alarm,) = idle_alarms(region)
    assert alarm["AlarmActions"] == [f"arn:aws:automate:{region}:ec2:stop"]  # stop, never terminate
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    cpu, gpu = metrics["cpu"]["MetricStat"], metrics["gpu"]["MetricStat"]
    assert (cpu["Metric"]["Namespace"], cpu["Metric"]["MetricName"]) == ("AWS/EC2", "CPUUtilization")
    assert (gpu["Metric"]["Namespace"], gpu["Metric"]["MetricName"]) == ("dl1-kit", "GPUUtilization")
    dims = [{"Name": "InstanceId", "Value": inst["InstanceId"]}]
    assert cpu["Metric"]["Dimensions"] == gpu["Metric"]["Dimensions"] == dims
    assert metrics["busy"]["ReturnData"] and "MAX([cpu, FILL(gpu, 0)])" == metrics["busy"]["Expression"]
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] <= 5
    assert cpu["Period"] == gpu["Period"] == 300 and 300 * alarm["EvaluationPeriods"] == 60 * 60
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
    assert "idle guard: stops it after 60 min with CPU and GPU" in run(region, "status")[1]

    assert run(region, "up", "--idle-stop", "30", *extra)[0] == 0
    (alarm,) = idle_alarms(region)
    assert 300 * alarm["EvaluationPeriods"] == 30 * 60
    assert run(region, "up", "--idle-stop", "0", *extra)[0] == 0
    assert idle_alarms(region) == []
    assert "idle guard: OFF" in run(region, "status")[1]

    assert run(region, "up", *extra)[0] == 0
    assert run(region, "down", "--yes")[0] == 0
    assert idle_alarms(region) == []


def test_box_may_only_report_the_kits_metrics(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    assert run(region, "up", *extra)[0] == 0
    (inst,) = tagged_instances(region)
    role = f"dl1-kit-{region}-metrics"
    assert inst["IamInstanceProfile"]["Arn"].endswith(f"/{role}")
    iam = session(region).client("iam")
    policy = iam.get_role_policy(RoleName=role, PolicyName="put-gpu-metric")["PolicyDocument"]
    (statement,) = policy["Statement"]
    assert statement["Action"] == "cloudwatch:PutMetricData"
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "dl1-kit"}}
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert run(region, "up", *extra)[0] == 0  # reused, not made twice
    code, out, _ = run(region, "down", "--yes")
    assert code == 0 and role in out
    with pytest.raises(ClientError):
        iam.get_role(RoleName=role)


def test_box_made_before_the_profile_gets_it_on_up(moto, run):
    region = "eu-central-1"
    extra, ami = provide_ami(region, "flag", None)
    assert run(region, "up", "--idle-stop", "0", *extra)[0] == 0
    (inst,) = tagged_instances(region)
    assert not inst.get("IamInstanceProfile")
    code, out, _ = run(region, "up", *extra)
    assert code == 0 and "Attached instance profile" in out
    assert tagged_instances(region)[0]["IamInstanceProfile"]


def test_profile_left_without_its_role_is_repaired_on_up(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    iam = session(region).client("iam")
    role = f"dl1-kit-{region}-metrics"  # a profile without its role, as an interrupted `up` can leave it
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "ec2.amazonaws.com"}}]}
    iam.create_role(RoleName=role, Path="/dl1-kit/", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_instance_profile(InstanceProfileName=role, Path="/dl1-kit/")
    code, out, err = run(region, "up", *extra)
    assert code == 0, err
    roles = iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]["Roles"]
    assert [r["RoleName"] for r in roles] == [role] and f"Added the role {role} back" in out
    assert iam.get_role_policy(RoleName=role, PolicyName="put-gpu-metric")["PolicyDocument"]["Statement"]
    assert tagged_instances(region)[0]["IamInstanceProfile"]["Arn"].endswith(f"/{role}")
    assert "with CPU and GPU under" in out and "CPU alone" not in out
    assert "Added the role" not in run(region, "up", *extra)[1]  # whole now: reused as it is


class NoIamSession(RecordingSession):
    """A session whose IAM calls are all refused, as for a user without IAM rights."""

    def client(self, service, **kw):
        client = super().client(service, **kw)
        if service == "iam":
            def refuse(*a, **k):
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "IAM")
            for op in ("get_instance_profile", "create_role", "put_role_policy", "create_instance_profile",
                       "add_role_to_instance_profile"):
                setattr(client, op, refuse)
        return client


def test_without_iam_rights_the_guard_judges_by_cpu(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    rec = NoIamSession(region)
    code, out, err = run(region, "up", *extra, session=rec)
    assert code == 0, err
    assert "CPU alone" in out and "IamInstanceProfile" not in rec.launches[0]
    assert len(idle_alarms(region)) == 1
    # The guard line itself never claims to watch a GPU the box cannot report, nor does status.
    assert "CPU and GPU" not in out and "GPU is not watched" in out
    code, out, err = run(region, "status", session=rec)
    assert code == 0 and "CPU and GPU" not in out and "GPU is not watched" in out


def test_idle_stop_takes_minutes_or_zero():
    assert cli.parser().parse_args(["up"]).idle_stop == 60
    assert cli.parser().parse_args(["up", "--idle-stop", "0"]).idle_stop == 0
    for bad in ("2", "-5", "1h"):
        with pytest.raises(SystemExit):
            cli.parser().parse_args(["up", "--idle-stop", bad])


def test_price_is_shown_and_confirmed_before_anything_is_made(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    code, out, _ = run(region, "up", *extra, confirm=False)
    assert code == 1 and "$1.006/hour on demand" in out and "Nothing launched" in out
    assert run.prompts and "Launch" in run.prompts[-1]
    assert counts(region)["instances"] == counts(region)["groups"] == counts(region)["keys"] == 0
    run.prompts.clear()
    code, out, _ = run(region, "up", "--yes", *extra, confirm=False)
    assert code == 0 and not run.prompts and counts(region)["instances"] == 1


@pytest.mark.parametrize("cost", [3.06, None])
def test_dear_or_unknown_price_is_refused_without_max_price(moto, run, cost):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    code, _, err = run(region, "up", *extra, cost=cost)
    assert code == 1 and "--max-price" in err and "Traceback" not in err
    assert ("above the cap" in err) if cost else ("unknown price is not taken as cheap" in err)
    assert counts(region)["instances"] == counts(region)["groups"] == counts(region)["keys"] == 0
    code, out, err = run(region, "up", "--max-price", "3.5", *extra, cost=cost)
    assert code == 0, err
    assert ("$3.060/hour" in out) if cost else ("UNKNOWN" in out)


def test_unreachable_pricing_api_counts_as_unknown(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    code, _, err = run(region, "up", *extra, price=price.hourly_price)  # moto answers GetProducts with 404
    assert code == 1 and "unknown price" in err
    assert counts(region)["instances"] == 0


def test_spot_request_stops_and_status_tells_interruptions(moto, run):
    region = "ap-northeast-1"
    extra, _ = provide_ami(region, "flag", None)
    rec = RecordingSession(region)
    code, out, _ = run(region, "up", "--spot", "--max-price", "0.9", *extra, session=rec, cost=0.45)
    assert code == 0 and "$0.450/hour spot" in out
    assert rec.launches[0]["InstanceMarketOptions"] == {"MarketType": "spot", "SpotOptions": {
        "SpotInstanceType": "persistent", "InstanceInterruptionBehavior": "stop", "MaxPrice": "0.9000"}}
    (inst,) = tagged_instances(region)
    assert "interrupted" not in run(region, "status")[1]

    box = ec2_backends[DEFAULT_ACCOUNT_ID][region].get_instance(inst["InstanceId"])
    box.stop()  # as AWS does when it reclaims the capacity
    box.state_reason = type(box.state_reason)("Server.SpotInstanceShutdown: Spot capacity reclaimed",
                                              "Server.SpotInstanceShutdown")
    out = run(region, "status")[1]
    assert "AWS interrupted it" in out and "idle guard: stops it" in out

    box.start()  # AWS restarts a persistent request's box when capacity returns
    box.launch_time = box.launch_time + timedelta(hours=2)
    out = run(region, "status")[1]
    assert "AWS restarted it" in out and "idle guard: stops it" in out
    assert [a["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for a in idle_alarms(region)] == [
        inst["InstanceId"]]  # the same alarm still watches the restarted box

    assert run(region, "stop")[0] == 0 and run(region, "start")[0] == 0  # the kit's own start is not AWS's
    assert "AWS restarted" not in run(region, "status")[1]


def test_stop_and_status_cover_every_tagged_instance(moto, run):
    region = "eu-central-1"
    extra, ami = provide_ami(region, "flag", None)
    assert run(region, "up", *extra)[0] == 0
    (first,) = tagged_instances(region)
    second = ec2(region).run_instances(ImageId=ami, InstanceType="g4dn.xlarge", MinCount=1, MaxCount=1,
                                       TagSpecifications=base.tag_spec("instance", "dl1-kit"))["Instances"][0]
    out = run(region, "status")[1]
    assert first["InstanceId"] in out and second["InstanceId"] in out and "2 instances" in out
    assert run(region, "stop")[0] == 0
    assert {i["State"]["Name"] for i in tagged_instances(region)} == {"stopped"}


def test_root_volume_is_encrypted(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    assert run(region, "up", *extra)[0] == 0
    (inst,) = tagged_instances(region)
    volumes = ec2(region).describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [inst["InstanceId"]]}])["Volumes"]
    assert volumes and all(v["Encrypted"] for v in volumes)
    (root,) = [m for m in inst["BlockDeviceMappings"] if m["DeviceName"] == inst["RootDeviceName"]]
    assert root["Ebs"]["DeleteOnTermination"] is True


@pytest.mark.parametrize("cidr,says", [
    ("198.51.100.0/23", "--allow-wide-cidr"),
    ("10.0.0.0/8", "--allow-wide-cidr"),
    ("2001:db8::/48", "--allow-wide-cidr"),
    ("203.0.113.7/24", "--cidr 203.0.113.7/32"),  # a host address is never widened to its network
    ("2001:db8::7/64", "--cidr 2001:db8::7/128"),
])
def test_wide_or_widened_cidr_refused(moto, run, cidr, says):
    code, _, err = run("eu-central-1", "up", "--cidr", cidr, "--ami", "ami-x")
    assert code == 1 and says in err and "Traceback" not in err
    assert counts("eu-central-1")["groups"] == 0


def test_wide_cidr_allowed_when_asked(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    assert run(region, "up", "--cidr", "198.51.100.0/23", "--allow-wide-cidr", *extra)[0] == 0
    (group,) = ec2(region).describe_security_groups(Filters=TAG)["SecurityGroups"]
    assert [r["CidrIp"] for r in group["IpPermissions"][0]["IpRanges"]] == ["198.51.100.0/23"]
    assert run(region, "up", "--cidr", "0.0.0.0/0", "--allow-wide-cidr", *extra)[0] == 1  # never the world


def test_ipv6_rule_for_a_box_without_ipv6_warns(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    code, _, err = run(region, "up", "--cidr", "2001:db8:0:7::/64", *extra)
    assert code == 0 and "no IPv6 address" in err and "IPv4" in err
    code, _, err = run(region, "up", *extra)
    assert code == 0 and "IPv6" not in err


def main_route(region, vpc_id):
    (table,) = ec2(region).describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                          {"Name": "association.main", "Values": ["true"]}])[
        "RouteTables"]
    return table["RouteTableId"], [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]


def test_unattached_gateway_and_missing_route_are_repaired(moto, run):
    region = "sa-east-1"
    drop_default_vpc(region)
    client = ec2(region)
    # what an interrupted run leaves: the tagged VPC and gateway, never attached, no route
    vpc_id = client.create_vpc(CidrBlock="10.77.0.0/16", TagSpecifications=base.tag_spec("vpc", "dl1-kit"))[
        "Vpc"]["VpcId"]
    igw_id = client.create_internet_gateway(TagSpecifications=base.tag_spec("internet-gateway", "dl1-kit"))[
        "InternetGateway"]["InternetGatewayId"]
    extra, _ = provide_ami(region, "flag", None)

    def check():
        (igw,) = client.describe_internet_gateways(InternetGatewayIds=[igw_id])["InternetGateways"]
        assert [a["VpcId"] for a in igw["Attachments"]] == [vpc_id]
        _, routes = main_route(region, vpc_id)
        assert [r.get("GatewayId") for r in routes] == [igw_id]

    assert run(region, "up", *extra)[0] == 0
    check()
    table_id, _ = main_route(region, vpc_id)  # now break it under the running box, and run `up` again
    client.delete_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0")
    client.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    code, out, _ = run(region, "up", *extra)
    assert code == 0 and "attached it" in out
    check()
    assert counts(region)["tagged igws"] == 1


def test_unwritable_key_folder_makes_no_key_pair(moto, run, tmp_path):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    code = cli.main(["--region", region, "--key-dir", str(blocker), "up", "--yes", *extra],
                    session=session(region), fetch_ip=lambda: MY_IP, price=lambda *a: PRICE)
    err = run.capsys.readouterr().err
    assert code == 1 and str(blocker) in err and "--key-dir" in err and "Traceback" not in err
    assert counts(region)["keys"] == 0 and counts(region)["instances"] == 0


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), ClientError({"Error": {"Code": "X", "Message": "m"}}, "Y")])
def test_failure_after_launch_says_how_to_stop(moto, run, monkeypatch, failure):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)

    def broken_wait(*a, **k):
        raise failure
    for module in (box, cli):  # the command line waits for a new box, box.start for an old one
        monkeypatch.setattr(module, "wait", broken_wait)
    code, _, err = run(region, "up", *extra)
    (inst,) = tagged_instances(region)
    assert code == 1 and inst["InstanceId"] in err
    assert "python -m setup.aws --region eu-central-1 stop" in err and "setup.aws --region eu-central-1 down" in err


def test_private_keys_are_git_ignored():
    assert "*.pem" in (ROOT / ".gitignore").read_text().splitlines()


def test_mistyped_region_is_named_before_any_call(run):
    code, _, err = run("eu-centrl-1", "status")
    assert code == 1 and "'eu-centrl-1' is not an AWS region" in err and "eu-central-1" in err
    assert "endpoint" not in err.lower()


class ShortOfCapacity(RecordingSession):
    """run_instances refuses with InsufficientInstanceCapacity in `full` zones."""

    def __init__(self, region, full):
        super().__init__(region)
        self.full = full

    def client(self, service, **kw):
        client = super().client(service, **kw)
        if service == "ec2" and kw.get("region_name", self.region_name) == self.region_name:
            recorded = client.run_instances

            def maybe(**args):
                subnet = args["NetworkInterfaces"][0]["SubnetId"]
                zone = client.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["AvailabilityZone"]
                if self.full == "all" or zone in self.full:
                    raise ClientError({"Error": {"Code": "InsufficientInstanceCapacity", "Message": "none"}},
                                      "RunInstances")
                return recorded(**args)
            client.run_instances = maybe
        return client


@pytest.mark.parametrize("default_vpc", [True, False])
def test_capacity_shortage_tries_other_zones(moto, run, default_vpc):
    region = "eu-central-1"
    if not default_vpc:
        drop_default_vpc(region)
    extra, _ = provide_ami(region, "flag", None)
    zones = box.offered_zones(ec2(region), "g5.xlarge")
    code, out, err = run(region, "up", *extra, session=ShortOfCapacity(region, zones[:1]))
    assert code == 0, err
    assert f"capacity in {zones[0]}" in out
    (inst,) = tagged_instances(region)
    assert inst["Placement"]["AvailabilityZone"] in zones[1:]
    assert run(region, "down", "--yes")[0] == 0
    assert counts(region)["tagged subnets"] == 0


def test_capacity_shortage_everywhere_names_other_regions(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    code, _, err = run(region, "up", *extra, session=ShortOfCapacity(region, "all"))
    assert code == 1 and "Tried every zone" in err and "Traceback" not in err
    assert "also offered in" in err and "us-east-1" in err and "--region" in err
    assert counts(region)["instances"] == 0


class NoPassRoleSession(RecordingSession):
    """EC2 refuses to launch with an instance profile, as for a user without iam:PassRole."""

    def client(self, service, **kw):
        client = super().client(service, **kw)
        if service == "ec2":
            recorded = client.run_instances

            def maybe(**args):
                if "IamInstanceProfile" in args:
                    raise ClientError({"Error": {"Code": "UnauthorizedOperation",
                                                 "Message": "Encoded authorization failure message: x"}},
                                      "RunInstances")
                return recorded(**args)
            client.run_instances = maybe
        return client


def test_without_pass_role_the_box_launches_without_profile(moto, run):
    region = "eu-central-1"
    extra, _ = provide_ami(region, "flag", None)
    code, out, err = run(region, "up", *extra, session=NoPassRoleSession(region))
    assert code == 0, err
    assert "CPU alone" in out and "CPU and GPU" not in out and "GPU is not watched" in out
    (inst,) = tagged_instances(region)
    assert not inst.get("IamInstanceProfile") and len(idle_alarms(region)) == 1
