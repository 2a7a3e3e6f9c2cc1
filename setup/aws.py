#!/usr/bin/env python3
"""Start, reach and remove a single-GPU box on AWS for the course.

Usage (from the repo root, with AWS credentials configured, e.g. `aws configure`):

    python setup/aws.py up                 # create or reuse the box, start it if stopped
    python setup/aws.py status             # state, IP, and the ssh / tunnel commands
    python setup/aws.py ssh                # log in (ubuntu@<ip>)
    python setup/aws.py tunnel             # forward localhost:8888 to Jupyter on the box
    python setup/aws.py stop               # stop paying for the GPU (the disk is kept)
    python setup/aws.py start              # start it again (the public IP changes)
    python setup/aws.py down               # delete everything this script created

Global options: --region (default: your AWS config / AWS_DEFAULT_REGION),
--name (default dl1-kit; names the tag, key pair and security group), --key-dir.
`up` options: --type (default g5.xlarge), --spot, --ami, --cidr.

The AMI is the AWS Deep Learning Base GPU AMI (Ubuntu 24.04, else 22.04; NVIDIA
driver included), looked up in the chosen region at run time. The security group
admits only SSH (TCP 22) and only from your public IP (or --cidr); Jupyter
stays on the box's 127.0.0.1 and is reached through `tunnel`. Every resource
created carries the tag Project=dl1-kit:<name>; `up` reuses what exists and
`down` deletes only what carries the tag. Run setup/install-gpu.sh on the box.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shlex
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

TAG_KEY = "Project"
DEFAULT_NAME = "dl1-kit"
DEFAULT_TYPE = "g5.xlarge"
SSH_USER = "ubuntu"
JUPYTER_PORT = 8888
UBUNTU_RELEASES = ("24.04", "22.04")  # preferred first: 24.04 ships Python 3.12, 22.04 only 3.10
AMI_PARAMS = tuple(f"/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-{v}/latest/ami-id"
                   for v in UBUNTU_RELEASES)
AMI_NAME_PATTERNS = tuple(f"Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu {v})*" for v in UBUNTU_RELEASES)
GPU_TYPES = ["g6.xlarge", "g5.xlarge", "g4dn.xlarge", "g6e.xlarge"]
SUGGESTED_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1"]
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
VPC_CIDR = "10.77.0.0/16"
SUBNET_CIDR = "10.77.0.0/24"
IP_URL = "https://checkip.amazonaws.com"


class SetupError(Exception):
    """A problem reported to the user as one message, without a traceback."""


# --- tags -------------------------------------------------------------------

def tag_value(name: str) -> str:
    """The value of the Project tag that marks this kit's resources."""
    return f"dl1-kit:{name}"


def tag_filter(name: str) -> list[dict]:
    """An EC2 Filters list matching resources carrying this kit's tag."""
    return [{"Name": f"tag:{TAG_KEY}", "Values": [tag_value(name)]}]


def tag_spec(kind: str, name: str) -> list[dict]:
    """A TagSpecifications entry that tags a new resource of `kind`."""
    tags = [{"Key": TAG_KEY, "Value": tag_value(name)}, {"Key": "Name", "Value": name}]
    return [{"ResourceType": kind, "Tags": tags}]


# --- where SSH is allowed from ------------------------------------------------

def fetch_public_ip(timeout: float = 5.0) -> str:
    """Ask checkip.amazonaws.com for this machine's public IP address."""
    with urllib.request.urlopen(IP_URL, timeout=timeout) as resp:  # noqa: S310 (fixed https URL)
        return resp.read(64).decode("ascii", "replace").strip()


def ssh_cidr(cidr: str | None, fetch_ip=fetch_public_ip) -> str:
    """The one network SSH is opened to: --cidr, else this machine's IP as /32."""
    if cidr:
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise SetupError(f"--cidr {cidr!r} is not a network such as 203.0.113.7/32.") from None
        if net.prefixlen == 0:
            raise SetupError("--cidr must not open SSH to the whole internet; give your own IP, e.g. 203.0.113.7/32.")
        return str(net)
    try:
        ip = ipaddress.ip_address(fetch_ip())
    except Exception:  # network down, proxy, timeout, garbage answer
        raise SetupError(f"Could not detect your public IP address via {IP_URL}. "
                         "Pass it yourself, e.g. --cidr 203.0.113.7/32.") from None
    return f"{ip}/{ip.max_prefixlen}"


def ip_permission(cidr: str) -> dict:
    """The single ingress rule: TCP 22 from `cidr`."""
    perm = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}
    rng = {"Description": "SSH from the course user"}
    if ipaddress.ip_network(cidr).version == 6:
        perm["Ipv6Ranges"] = [{**rng, "CidrIpv6": cidr}]
    else:
        perm["IpRanges"] = [{**rng, "CidrIp": cidr}]
    return perm


# --- region checks, AMI and price -------------------------------------------

def offered_zones(ec2, itype: str) -> list[str]:
    """Availability zones of the client's region that offer `itype`."""
    resp = ec2.describe_instance_type_offerings(
        LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": [itype]}])
    return sorted(o["Location"] for o in resp["InstanceTypeOfferings"])


def check_offered(ec2, itype: str, region: str) -> list[str]:
    """Return the zones offering `itype`, or raise a SetupError with alternatives."""
    zones = offered_zones(ec2, itype)
    if zones:
        return zones
    resp = ec2.describe_instance_type_offerings(
        LocationType="region", Filters=[{"Name": "instance-type", "Values": GPU_TYPES}])
    here = sorted({o["InstanceType"] for o in resp["InstanceTypeOfferings"]} - {itype})
    types = f"--type {' / '.join(here)}" if here else "no common single-GPU type"
    regions = ", ".join(r for r in SUGGESTED_REGIONS if r != region)
    raise SetupError(f"Instance type {itype} is not offered in {region}. "
                     f"Here try {types}; or another region, e.g. --region {regions}.")


def check_ami(ec2, ami: str) -> str:
    """Confirm that `ami` exists in the region; return it."""
    try:
        images = ec2.describe_images(ImageIds=[ami])["Images"]
    except ClientError as err:
        if "AMIID" not in err.response["Error"]["Code"].upper():
            raise
        images = []
    if not images:
        raise SetupError(f"AMI {ami} was not found in this region (AMI ids differ per region).")
    return ami


def find_ami(ssm, ec2, region: str) -> str:
    """The newest Deep Learning Base GPU AMI: SSM public parameter, else an image search."""
    for param in AMI_PARAMS:
        try:
            return ssm.get_parameter(Name=param)["Parameter"]["Value"]
        except ClientError:
            pass
    for pattern in AMI_NAME_PATTERNS:
        images = ec2.describe_images(Owners=["amazon"], Filters=[
            {"Name": "name", "Values": [pattern]},
            {"Name": "state", "Values": ["available"]},
            {"Name": "architecture", "Values": ["x86_64"]},
        ])["Images"]
        if images:
            return max(images, key=lambda im: im.get("CreationDate", ""))["ImageId"]
    raise SetupError(f"No Deep Learning Base GPU AMI (Ubuntu {' or '.join(UBUNTU_RELEASES)}) found in {region}. "
                     "Pass one with --ami ami-..., or try another --region.")


def hourly_price(session, itype: str, region: str) -> float | None:
    """On-demand Linux USD/hour from the Pricing API, or None if it does not answer."""
    try:
        pricing = session.client("pricing", region_name="us-east-1",
                                 config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1}))
        fields = {"instanceType": itype, "regionCode": region, "operatingSystem": "Linux",
                  "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}
        resp = pricing.get_products(ServiceCode="AmazonEC2", MaxResults=10, Filters=[
            {"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in fields.items()])
        for item in resp["PriceList"]:
            for term in json.loads(item)["terms"]["OnDemand"].values():
                for dim in term["priceDimensions"].values():
                    usd = float(dim["pricePerUnit"]["USD"])
                    if usd > 0:
                        return usd
    except Exception:  # the price is a nicety; never fail `up` over it
        return None
    return None


def quota_message(err: ClientError, itype: str, region: str, spot: bool) -> str:
    """Explain a vCPU-quota or capacity refusal and how to raise the quota."""
    family = itype.split(".")[0].lower()
    kind = "P" if family.startswith("p") else "G and VT" if family.startswith(("g", "vt")) else "Standard"
    quota = f"All {kind} Spot Instance Requests" if spot else f"Running On-Demand {kind} instances"
    how = (f"Request an increase in the Service Quotas console "
           f"(https://{region}.console.aws.amazon.com/servicequotas/home/services/ec2/quotas), "
           f"region {region}, quota \"{quota}\": ask for at least the vCPUs of {itype} (4 for an xlarge).")
    if err.response["Error"]["Code"] == "InsufficientInstanceCapacity":
        return (f"AWS has no spare {itype} capacity in {region} right now: retry later, or try another "
                f"--type or --region. If this is your first GPU instance, also check the vCPU quota. {how}")
    return f"Your vCPU quota for {itype} in {region} is too low (new accounts start at 0). {how}"


# --- network -----------------------------------------------------------------

def pick_subnet(subnets: list[dict], zones: list[str]) -> dict | None:
    """A subnet in one of `zones`, else the first subnet, else None."""
    good = [s for s in subnets if s["AvailabilityZone"] in zones]
    return (good or subnets or [None])[0]


def default_network(ec2, zones: list[str]) -> tuple[str, str] | None:
    """The default VPC and a default subnet in it, if the region still has them."""
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        return None
    vpc_id = vpcs[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                            {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    subnet = pick_subnet(subnets, zones)
    return (vpc_id, subnet["SubnetId"]) if subnet else None


def ensure_gateway(ec2, name: str, vpc_id: str) -> None:
    """Give the tagged VPC a tagged internet gateway and a default route to it."""
    if ec2.describe_internet_gateways(Filters=tag_filter(name))["InternetGateways"]:
        return
    igw_id = ec2.create_internet_gateway(TagSpecifications=tag_spec("internet-gateway", name))[
        "InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                               {"Name": "association.main", "Values": ["true"]}])
    ec2.create_route(RouteTableId=table["RouteTables"][0]["RouteTableId"],
                     DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)


def own_network(ec2, name: str, zones: list[str]) -> tuple[str, str]:
    """Reuse or create a tagged VPC with a public subnet and an internet gateway."""
    vpcs = ec2.describe_vpcs(Filters=tag_filter(name))["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=tag_spec("vpc", name))["Vpc"]["VpcId"]
        ec2.get_waiter("vpc_available").wait(VpcIds=[vpc_id])
        print(f"Created VPC {vpc_id}")
    ensure_gateway(ec2, name, vpc_id)
    subnets = ec2.describe_subnets(Filters=tag_filter(name) + [{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    if subnets:
        return vpc_id, subnets[0]["SubnetId"]
    zone = zones[0] if zones else None
    extra = {"AvailabilityZone": zone} if zone else {}
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=SUBNET_CIDR, TagSpecifications=tag_spec("subnet", name),
                                  **extra)["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    return vpc_id, subnet_id


def network(ec2, name: str, zones: list[str]) -> tuple[str, str]:
    """The (vpc_id, subnet_id) to launch into: default VPC if present, else our own."""
    return default_network(ec2, zones) or own_network(ec2, name, zones)


def ensure_security_group(ec2, name: str, vpc_id: str | None, cidr: str) -> str:
    """Reuse or create the tagged group; make TCP 22 from `cidr` its only ingress rule."""
    filters = tag_filter(name) + ([{"Name": "vpc-id", "Values": [vpc_id]}] if vpc_id else [])
    groups = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    if not groups:
        if vpc_id is None:
            raise SetupError(f"The security group tagged {TAG_KEY}={tag_value(name)} is missing; "
                             "run `down` and then `up` again.")
        try:
            gid = ec2.create_security_group(GroupName=f"{name}-ssh", VpcId=vpc_id,
                                            Description="dl1-kit: SSH from one address only",
                                            TagSpecifications=tag_spec("security-group", name))["GroupId"]
        except ClientError as err:
            if err.response["Error"]["Code"] != "InvalidGroup.Duplicate":
                raise
            raise SetupError(f"A security group named {name}-ssh exists that this script did not create; "
                             "pick another --name.") from None
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[ip_permission(cidr)])
        print(f"Created security group {gid}: SSH from {cidr} only")
        return gid
    group = groups[0]
    if not has_only_rule(group, cidr):
        if group["IpPermissions"]:
            ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=group["IpPermissions"])
        ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[ip_permission(cidr)])
        print(f"Security group {group['GroupId']}: SSH now allowed from {cidr} only")
    return group["GroupId"]


def has_only_rule(group: dict, cidr: str) -> bool:
    """Whether the group's ingress is exactly TCP 22 from `cidr`."""
    perms = group["IpPermissions"]
    if len(perms) != 1:
        return False
    p = perms[0]
    ranges = [r["CidrIp"] for r in p.get("IpRanges", [])] + [r["CidrIpv6"] for r in p.get("Ipv6Ranges", [])]
    return (p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), ranges) == ("tcp", 22, 22, [cidr])


# --- key pair ----------------------------------------------------------------

def key_path(key_dir: Path, name: str, region: str) -> Path:
    """Where the private key for this name and region lives."""
    return Path(key_dir).expanduser() / f"{name}-{region}.pem"


def write_private_key(path: Path, material: str) -> None:
    """Write a private key readable by its owner only (mode 600)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(material)


def ensure_key_pair(ec2, name: str, path: Path) -> str:
    """Reuse the tagged key pair (its .pem must exist locally) or create one."""
    if ec2.describe_key_pairs(Filters=tag_filter(name))["KeyPairs"]:
        if not path.exists():
            raise SetupError(f"Key pair {name!r} exists in AWS but its private key {path} is missing here. "
                             "Copy it back to that path (chmod 600), or run `down` and then `up` for a new box.")
        return name
    if path.exists():
        raise SetupError(f"{path} exists but AWS has no key pair {name!r} for it; move the file away and retry.")
    try:
        material = ec2.create_key_pair(KeyName=name, KeyType="ed25519",
                                       TagSpecifications=tag_spec("key-pair", name))["KeyMaterial"]
    except ClientError as err:
        if err.response["Error"]["Code"] != "InvalidKeyPair.Duplicate":
            raise
        raise SetupError(f"A key pair named {name!r} exists that this script did not create; "
                         "pick another --name.") from None
    write_private_key(path, material)
    print(f"Created key pair {name}; private key saved to {path} (mode 600)")
    return name


# --- instance ----------------------------------------------------------------

def find_instance(ec2, name: str) -> dict | None:
    """The tagged instance that is pending, running, stopping or stopped, if any."""
    filters = tag_filter(name) + [{"Name": "instance-state-name", "Values": LIVE_STATES}]
    found = [i for r in ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]]
    return min(found, key=lambda i: i["LaunchTime"]) if found else None


def launch(ec2, name: str, *, ami: str, itype: str, subnet: str, group: str, key: str,
           spot: bool, region: str) -> str:
    """Run one instance with the given pieces; return its id."""
    extra = {}
    if spot:
        extra["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": {
            "SpotInstanceType": "persistent", "InstanceInterruptionBehavior": "stop"}}
    try:
        resp = ec2.run_instances(
            ImageId=ami, InstanceType=itype, KeyName=key, MinCount=1, MaxCount=1,
            NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group],
                                "AssociatePublicIpAddress": True}],
            MetadataOptions={"HttpTokens": "required"},
            TagSpecifications=tag_spec("instance", name) + tag_spec("volume", name), **extra)
    except ClientError as err:
        if err.response["Error"]["Code"] in ("VcpuLimitExceeded", "InsufficientInstanceCapacity",
                                             "MaxSpotInstanceCountExceeded"):
            raise SetupError(quota_message(err, itype, region, spot)) from None
        raise
    return resp["Instances"][0]["InstanceId"]


def wait(ec2, waiter: str, instance_id: str) -> dict:
    """Wait for `waiter` on the instance; return its fresh description."""
    ec2.get_waiter(waiter).wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def start(ec2, inst: dict) -> dict:
    """Bring a stopped (or stopping) instance back to running."""
    state = inst["State"]["Name"]
    if state == "stopping":
        inst = wait(ec2, "instance_stopped", inst["InstanceId"])
        state = "stopped"
    if state == "stopped":
        ec2.start_instances(InstanceIds=[inst["InstanceId"]])
        print(f"Starting {inst['InstanceId']} ...")
    return wait(ec2, "instance_running", inst["InstanceId"])


# --- commands shown to the user ----------------------------------------------

def ssh_command(key: Path, ip: str, tunnel: bool = False) -> list[str]:
    """The ssh argv for logging in, or for forwarding Jupyter's port."""
    cmd = ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=accept-new"]
    if tunnel:
        cmd += ["-N", "-L", f"{JUPYTER_PORT}:localhost:{JUPYTER_PORT}"]
    return cmd + [f"{SSH_USER}@{ip}"]


def describe(inst: dict, key: Path, name: str, region: str) -> str:
    """A few lines: state, type, IP and how to connect."""
    ip = inst.get("PublicIpAddress")
    lines = [f"{name} in {region}: {inst['InstanceId']}  {inst['InstanceType']}  "
             f"{inst['State']['Name']}  ip={ip or '-'}"]
    if ip:
        lines += [f"  ssh:    {shlex.join(ssh_command(key, ip))}",
                  f"  tunnel: {shlex.join(ssh_command(key, ip, tunnel=True))}",
                  f"          then open http://localhost:{JUPYTER_PORT} here"]
    return "\n".join(lines)


def self_command(args, sub: str) -> str:
    """This script's command line for subcommand `sub` with the same region and name."""
    name = f" --name {args.name}" if args.name != DEFAULT_NAME else ""
    return f"python setup/aws.py --region {args.region}{name} {sub}"


def stop_reminder(args) -> str:
    """The reminder that a running GPU box costs money."""
    return (f"Remember: `{self_command(args, 'stop')}` when you are done; "
            "a running GPU instance is billed by the second.")


# --- subcommands -------------------------------------------------------------

def cmd_up(args, session, fetch_ip, confirm) -> int:
    """Create or reuse the box and start it."""
    ec2 = session.client("ec2")
    cidr = ssh_cidr(args.cidr, fetch_ip)
    path = key_path(args.key_dir, args.name, args.region)
    inst = find_instance(ec2, args.name)
    if inst:
        ensure_key_pair(ec2, args.name, path)
        ensure_security_group(ec2, args.name, None, cidr)
        print(f"Reusing {inst['InstanceId']} ({inst['State']['Name']})")
        if inst["InstanceType"] != args.type:
            print(f"  it is a {inst['InstanceType']}; to switch to {args.type}, run `down` first")
        inst = start(ec2, inst)
    else:
        zones = check_offered(ec2, args.type, args.region)
        ami = check_ami(ec2, args.ami) if args.ami else find_ami(session.client("ssm"), ec2, args.region)
        vpc_id, subnet_id = network(ec2, args.name, zones)
        group = ensure_security_group(ec2, args.name, vpc_id, cidr)
        key = ensure_key_pair(ec2, args.name, path)
        price = hourly_price(session, args.type, args.region)
        if price is not None:
            note = " (spot is usually far less)" if args.spot else ""
            print(f"{args.type} in {args.region}: about ${price:.3f}/hour on demand{note}")
        instance_id = launch(ec2, args.name, ami=ami, itype=args.type, subnet=subnet_id, group=group,
                             key=key, spot=args.spot, region=args.region)
        print(f"Launched {instance_id} ({args.type}{', spot' if args.spot else ''}, {ami}); waiting ...")
        inst = wait(ec2, "instance_running", instance_id)
    print(describe(inst, path, args.name, args.region))
    print("On the box: clone the kit, then run setup/install-gpu.sh")
    print(stop_reminder(args))
    return 0


def require_instance(ec2, args) -> dict:
    """The tagged live instance, or a SetupError saying to run `up`."""
    inst = find_instance(ec2, args.name)
    if not inst:
        raise SetupError(f"No {args.name} instance in {args.region}; run `{self_command(args, 'up')}` first.")
    return inst


def cmd_status(args, session, fetch_ip, confirm) -> int:
    """Print the instance's state and how to connect."""
    ec2 = session.client("ec2")
    inst = find_instance(ec2, args.name)
    if not inst:
        print(f"No {args.name} instance in {args.region}.")
        return 0
    print(describe(inst, key_path(args.key_dir, args.name, args.region), args.name, args.region))
    if inst["State"]["Name"] == "running":
        print(stop_reminder(args))
    return 0


def cmd_connect(args, session, fetch_ip, confirm) -> int:
    """Run (or with --print, show) ssh to the box, or the Jupyter tunnel."""
    inst = require_instance(session.client("ec2"), args)
    ip = inst.get("PublicIpAddress")
    if inst["State"]["Name"] != "running" or not ip:
        raise SetupError(f"{inst['InstanceId']} is {inst['State']['Name']}; run `{self_command(args, 'start')}`.")
    cmd = ssh_command(key_path(args.key_dir, args.name, args.region), ip, tunnel=args.command == "tunnel")
    if args.print:
        print(shlex.join(cmd))
        return 0
    if args.command == "tunnel":
        print(f"Forwarding http://localhost:{JUPYTER_PORT} to the box; Ctrl-C to close.", flush=True)
    try:
        os.execvp(cmd[0], cmd)
    except OSError as err:
        raise SetupError(f"Could not run ssh ({err.strerror}); install an OpenSSH client.") from None
    return 0  # not reached


def cmd_stop(args, session, fetch_ip, confirm) -> int:
    """Stop the instance (its disk is kept)."""
    ec2 = session.client("ec2")
    inst = require_instance(ec2, args)
    if inst["State"]["Name"] in ("pending", "running"):
        ec2.stop_instances(InstanceIds=[inst["InstanceId"]])
        print(f"Stopping {inst['InstanceId']} ...")
    inst = wait(ec2, "instance_stopped", inst["InstanceId"])
    print(f"{inst['InstanceId']} is stopped; the GPU is no longer billed (its disk still is, a little).")
    return 0


def cmd_start(args, session, fetch_ip, confirm) -> int:
    """Start the stopped instance."""
    ec2 = session.client("ec2")
    inst = start(ec2, require_instance(ec2, args))
    print(describe(inst, key_path(args.key_dir, args.name, args.region), args.name, args.region))
    print(stop_reminder(args))
    return 0


def tagged(ec2, name: str) -> dict[str, list]:
    """Everything in the region that carries this kit's tag, by kind."""
    f = tag_filter(name)
    states = {"Name": "instance-state-name", "Values": LIVE_STATES + ["shutting-down"]}
    return {
        "instances": [i for r in ec2.describe_instances(Filters=f + [states])["Reservations"]
                      for i in r["Instances"]],
        "security groups": ec2.describe_security_groups(Filters=f)["SecurityGroups"],
        "key pairs": ec2.describe_key_pairs(Filters=f)["KeyPairs"],
        "subnets": ec2.describe_subnets(Filters=f)["Subnets"],
        "internet gateways": ec2.describe_internet_gateways(Filters=f)["InternetGateways"],
        "vpcs": ec2.describe_vpcs(Filters=f)["Vpcs"],
    }


def resource_id(item: dict) -> str:
    """The id of an EC2 description of any of the kinds in `tagged`."""
    for key in ("InstanceId", "GroupId", "KeyName", "SubnetId", "InternetGatewayId", "VpcId"):
        if key in item:
            return item[key]
    raise KeyError(item)


def retry(fn, *, tries: int = 30, delay: float = 5.0) -> None:
    """Call fn, retrying while AWS still sees a dependency (e.g. an ENI going away)."""
    for attempt in range(tries):
        try:
            return fn()
        except ClientError as err:
            if err.response["Error"]["Code"] != "DependencyViolation" or attempt == tries - 1:
                raise
            time.sleep(delay)


def remove(ec2, found: dict[str, list], pem: Path) -> None:
    """Delete the tagged resources in dependency order."""
    ids = [i["InstanceId"] for i in found["instances"]]
    spot = [i["SpotInstanceRequestId"] for i in found["instances"] if i.get("SpotInstanceRequestId")]
    if spot:
        ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=spot)
    if ids:
        ec2.terminate_instances(InstanceIds=ids)
        print(f"Terminating {', '.join(ids)} ...")
        ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    for g in found["security groups"]:
        retry(lambda: ec2.delete_security_group(GroupId=g["GroupId"]))
    for k in found["key pairs"]:
        ec2.delete_key_pair(KeyName=k["KeyName"])
    if found["key pairs"] and pem.exists():
        pem.unlink()
        print(f"Removed {pem}")
    for igw in found["internet gateways"]:
        for att in igw.get("Attachments", []):
            retry(lambda: ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"],
                                                      VpcId=att["VpcId"]))
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    for s in found["subnets"]:
        retry(lambda: ec2.delete_subnet(SubnetId=s["SubnetId"]))
    for v in found["vpcs"]:
        retry(lambda: ec2.delete_vpc(VpcId=v["VpcId"]))


def cmd_down(args, session, fetch_ip, confirm) -> int:
    """Delete everything carrying the tag, after confirmation."""
    ec2 = session.client("ec2")
    found = tagged(ec2, args.name)
    if not any(found.values()):
        print(f"Nothing tagged {TAG_KEY}={tag_value(args.name)} in {args.region}.")
        return 0
    print(f"In {args.region}, tagged {TAG_KEY}={tag_value(args.name)}:")
    for kind, items in found.items():
        if items:
            print(f"  {kind}: {', '.join(resource_id(i) for i in items)}")
    if not args.yes and not confirm("Delete all of these (the instance's disk too)? [y/N] "):
        print("Nothing deleted.")
        return 1
    remove(ec2, found, key_path(args.key_dir, args.name, args.region))
    print("Done; nothing tagged is left.")
    return 0


COMMANDS = {"up": cmd_up, "status": cmd_status, "ssh": cmd_connect, "tunnel": cmd_connect,
            "stop": cmd_stop, "start": cmd_start, "down": cmd_down}


# --- entry point -------------------------------------------------------------

def ask_yes_no(prompt: str) -> bool:
    """Ask on the terminal; only y/yes counts as yes."""
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def name_arg(text: str) -> str:
    """Accept names usable in tags, key names and file names."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", text):
        raise argparse.ArgumentTypeError("use letters, digits, - and _ (at most 41)")
    return text


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(prog="setup/aws.py", description="Manage the course's GPU box on AWS.")
    p.add_argument("--region", help="AWS region (default: from your AWS config / AWS_DEFAULT_REGION)")
    p.add_argument("--name", type=name_arg, default=DEFAULT_NAME, help="names the tag, key pair and security group")
    p.add_argument("--key-dir", type=Path, default=Path("~/.ssh"), help="where the private key is kept")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", help="create or reuse the box and start it")
    up.add_argument("--type", default=DEFAULT_TYPE, help=f"instance type (default {DEFAULT_TYPE})")
    up.add_argument("--spot", action="store_true", help="use spot pricing (cheaper, may be interrupted)")
    up.add_argument("--ami", help="AMI id to use instead of the Deep Learning Base GPU AMI")
    up.add_argument("--cidr", help="allow SSH from this network instead of your detected IP")
    sub.add_parser("status", help="show state, IP and connect commands")
    for cmd, text in (("ssh", "log in to the box"), ("tunnel", f"forward localhost:{JUPYTER_PORT} to Jupyter")):
        sp = sub.add_parser(cmd, help=text)
        sp.add_argument("--print", action="store_true", help="only print the ssh command")
    sub.add_parser("stop", help="stop the box (disk kept)")
    sub.add_parser("start", help="start the stopped box")
    down = sub.add_parser("down", help="delete everything this script created")
    down.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return p


def main(argv=None, *, session=None, fetch_ip=fetch_public_ip, confirm=ask_yes_no) -> int:
    """Parse arguments, run one subcommand, turn known failures into one-line errors."""
    args = parser().parse_args(argv)
    try:
        session = session or boto3.Session(region_name=args.region)
        args.region = session.region_name
        if not args.region:
            raise NoRegionError()
        return COMMANDS[args.command](args, session, fetch_ip, confirm)
    except SetupError as err:
        msg = str(err)
    except NoCredentialsError:
        msg = "No AWS credentials found. Run `aws configure` (or set AWS_PROFILE) and try again."
    except NoRegionError:
        msg = "No AWS region set. Pass --region (e.g. --region eu-central-1) or run `aws configure`."
    except ClientError as err:
        e = err.response["Error"]
        msg = f"AWS refused {err.operation_name}: {e.get('Code')}: {e.get('Message')}"
    except BotoCoreError as err:
        msg = f"AWS call failed: {err}"
    except KeyboardInterrupt:
        msg = "Interrupted."
    print(f"error: {msg}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
