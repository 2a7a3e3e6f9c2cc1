"""setup/aws.py against AWS emulated in-process by moto: lifecycle, idempotence, safety, errors."""
import functools
import importlib.util
import json
import shlex
import stat
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("dl1_setup_aws", ROOT / "setup" / "aws.py")
aws = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(aws)

MY_IP = "203.0.113.7"
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
    """Calls aws.main with injected session, IP lookup and prompt; collects all output."""

    def __init__(self, capsys, keys):
        self.capsys, self.keys, self.seen = capsys, keys, ""

    def __call__(self, region, *argv, ip=MY_IP, confirm=True, **kw):
        def fetch_ip():
            if isinstance(ip, Exception):
                raise ip
            return ip
        kw.setdefault("session", session(region))
        code = aws.main(["--region", region, "--key-dir", str(self.keys), *argv],
                        fetch_ip=fetch_ip, confirm=lambda prompt: confirm, **kw)
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
        monkeypatch.setattr(aws, "AMI_PARAMS", ("/dl1-kit-test/not-there", TEST_PARAM))
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
    assert inst["Placement"]["AvailabilityZone"] in aws.offered_zones(ec2(region), "g5.xlarge")
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
    code = aws.main(["--key-dir", str(keys), "status"])
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
    monkeypatch.setattr(aws.os, "execvp", lambda prog, argv: calls.append(argv))
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

    monkeypatch.setattr(aws.urllib.request, "urlopen", fake_urlopen)
    assert aws.ssh_cidr(None) == "198.51.100.23/32"
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

    assert aws.hourly_price(Session(Pricing()), "g5.xlarge", "eu-central-1") == pytest.approx(1.006)
    assert aws.hourly_price(Session(object()), "g5.xlarge", "eu-central-1") is None


def test_missing_ssh_client(moto, run, monkeypatch):
    region = "ap-northeast-1"
    extra, _ = provide_ami(region, "flag", None)
    run(region, "up", *extra)

    def no_ssh(prog, argv):
        raise FileNotFoundError(2, "No such file or directory")
    monkeypatch.setattr(aws.os, "execvp", no_ssh)
    code, _, err = run(region, "ssh")
    assert code == 1 and "OpenSSH" in err and "Traceback" not in err


def test_bad_name_rejected():
    with pytest.raises(SystemExit) as exc:
        aws.main(["--name", "../evil", "status"])
    assert exc.value.code == 2


def test_help():
    with pytest.raises(SystemExit) as exc:
        aws.main(["--help"])
    assert exc.value.code == 0
