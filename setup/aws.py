#!/usr/bin/env python3
"""Start, reach and remove a single-GPU box on AWS for the course.

Usage (from the repo root, with AWS credentials configured, e.g. `aws configure`):

    python setup/aws.py up                 # create or reuse the box, start it if stopped
    python setup/aws.py status             # state, IP, price guard, and the ssh / tunnel commands
    python setup/aws.py ssh                # log in (ubuntu@<ip>)
    python setup/aws.py tunnel             # forward localhost:8888 to Jupyter on the box
    python setup/aws.py stop               # stop paying for the GPU (the disk is kept)
    python setup/aws.py start              # start it again (the public IP changes)
    python setup/aws.py down               # delete everything this script created

Global options: --region (default: your AWS config / AWS_DEFAULT_REGION),
--name (default dl1-kit; names the tag, key pair and security group), --key-dir.
`up` options: --type (default g5.xlarge), --spot, --ami, --cidr, --allow-wide-cidr,
--idle-stop MINUTES (default 60; 0 = off), --max-price USD_PER_HOUR, --yes.

The AMI is the AWS Deep Learning Base GPU AMI (Ubuntu 24.04, else 22.04; NVIDIA
driver included), looked up in the chosen region at run time. The security group
admits only SSH (TCP 22) and only from your public IP (or --cidr); Jupyter
stays on the box's 127.0.0.1 and is reached through `tunnel`. The root disk is
encrypted. Before launching, `up` shows the hourly price and asks; a CloudWatch
alarm stops the box after an hour with CPU and GPU idle (setup/aws_guard.py). Every
resource created carries the
tag Project=dl1-kit:<name>; `up` reuses what exists and `down` deletes only what
carries the tag. Run setup/install-gpu.sh on the box.
"""
from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the aws_*.py parts beside this file

import boto3  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError  # noqa: E402

from aws_base import TAG_KEY, SetupError, tag_filter, tag_spec, tag_value  # noqa: E402,F401
from aws_guard import (DEFAULT_IDLE_MINUTES, attach_profile, delete_idle_alarms, delete_metrics_profile,  # noqa: E402
                       ensure_idle_alarm, ensure_metrics_profile, guard_line, idle_alarm, profile_name)
from aws_network import (fetch_public_ip, ipv6_warning, network, repair_own_network,  # noqa: E402,F401
                         ensure_security_group, ssh_cidr)
from aws_price import hourly_price, price_line  # noqa: E402

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
STARTED_TAG = "dl1-kit:started"  # the LaunchTime of the kit's own last start; a later one was AWS's
SPOT_STOP_REASONS = ("Server.SpotInstanceShutdown", "Server.SpotInstanceTermination")
IAM_WAIT_S, IAM_TRIES = 5.0, 12  # a new instance profile takes a few seconds to be usable by EC2


# --- region checks, AMI -------------------------------------------------------

def check_region(session, region: str) -> None:
    """Refuse a region name the SDK does not know, suggesting the nearest ones."""
    known = set()
    for partition in session.get_available_partitions():
        known.update(session.get_available_regions("ec2", partition_name=partition))
    if not known or region in known:
        return
    close = difflib.get_close_matches(region, sorted(known), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else " Regions look like eu-central-1 or us-east-1."
    raise SetupError(f"{region!r} is not an AWS region.{hint} (A region newer than your boto3 needs "
                     "`pip install -U boto3`.)")


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


def regions_offering(session, itype: str, region: str) -> list[str]:
    """Which of the suggested regions (other than `region`) offer `itype`."""
    found = []
    for other in SUGGESTED_REGIONS:
        if other == region:
            continue
        try:
            resp = session.client("ec2", region_name=other).describe_instance_type_offerings(
                LocationType="region", Filters=[{"Name": "instance-type", "Values": [itype]}])
        except (ClientError, BotoCoreError):  # a region not enabled for this account
            continue
        if resp["InstanceTypeOfferings"]:
            found.append(other)
    return found


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


def root_volume(ec2, ami: str) -> list[dict]:
    """A block device mapping that encrypts the AMI's root disk and deletes it with the instance."""
    image = ec2.describe_images(ImageIds=[ami])["Images"][0]
    root = image.get("RootDeviceName", "/dev/sda1")
    ebs = next((m.get("Ebs", {}) for m in image.get("BlockDeviceMappings", []) if m.get("DeviceName") == root), {})
    spec = {"Encrypted": True, "DeleteOnTermination": True}
    spec.update({k: ebs[k] for k in ("VolumeSize", "VolumeType") if k in ebs})
    return [{"DeviceName": root, "Ebs": spec}]


def quota_message(err: ClientError, itype: str, region: str, spot: bool) -> str:
    """Explain a vCPU-quota refusal and how to raise the quota."""
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


# --- key pair ----------------------------------------------------------------

def key_path(key_dir: Path, name: str, region: str) -> Path:
    """Where the private key for this name and region lives."""
    return Path(key_dir).expanduser() / f"{name}-{region}.pem"


def reserve_key_file(path: Path) -> int:
    """Create the empty private-key file (mode 600) before AWS makes a key it could not be saved to."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as err:
        raise SetupError(f"Cannot write the private key to {path} ({err.strerror}); "
                         "pass --key-dir with a folder you can write to.") from None


def ensure_key_pair(ec2, name: str, path: Path) -> str:
    """Reuse the tagged key pair (its .pem must exist locally) or create one."""
    if ec2.describe_key_pairs(Filters=tag_filter(name))["KeyPairs"]:
        if not path.exists():
            raise SetupError(f"Key pair {name!r} exists in AWS but its private key {path} is missing here. "
                             "Copy it back to that path (chmod 600), or run `down` and then `up` for a new box.")
        return name
    if path.exists():
        raise SetupError(f"{path} exists but AWS has no key pair {name!r} for it; move the file away and retry.")
    fd = reserve_key_file(path)
    try:
        with os.fdopen(fd, "w") as f:
            try:
                material = ec2.create_key_pair(KeyName=name, KeyType="ed25519",
                                               TagSpecifications=tag_spec("key-pair", name))["KeyMaterial"]
            except ClientError as err:
                if err.response["Error"]["Code"] != "InvalidKeyPair.Duplicate":
                    raise
                raise SetupError(f"A key pair named {name!r} exists that this script did not create; "
                                 "pick another --name.") from None
            try:
                os.fchmod(f.fileno(), 0o600)
                f.write(material)
                f.flush()
            except OSError as err:  # e.g. disk full: a key AWS holds but we do not is useless
                ec2.delete_key_pair(KeyName=name)
                raise SetupError(f"Could not save the private key to {path} ({err.strerror}); "
                                 "nothing was kept. Free space or pass --key-dir, then retry.") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    print(f"Created key pair {name}; private key saved to {path} (mode 600)")
    return name


# --- instance ----------------------------------------------------------------

def find_instances(ec2, name: str) -> list[dict]:
    """Every tagged instance that is pending, running, stopping or stopped, oldest first."""
    filters = tag_filter(name) + [{"Name": "instance-state-name", "Values": LIVE_STATES}]
    found = [i for r in ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]]
    return sorted(found, key=lambda i: i["LaunchTime"])


def find_instance(ec2, name: str) -> dict | None:
    """The oldest tagged live instance, if any (the one `up`, `ssh` and `start` use)."""
    found = find_instances(ec2, name)
    return found[0] if found else None


def launch(ec2, name: str, *, ami: str, itype: str, subnet: str, group: str, key: str,
           spot: bool, max_price: float | None, profile: str | None) -> str:
    """Run one instance with the given pieces; return its id."""
    extra = {"IamInstanceProfile": {"Name": profile}} if profile else {}
    if spot:  # persistent + stop: an interruption stops the box, keeps its disk, and AWS restarts it later
        options = {"SpotInstanceType": "persistent", "InstanceInterruptionBehavior": "stop"}
        if max_price is not None:
            options["MaxPrice"] = f"{max_price:.4f}"
        extra["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": options}
    for attempt in range(IAM_TRIES):
        try:
            resp = ec2.run_instances(
                ImageId=ami, InstanceType=itype, KeyName=key, MinCount=1, MaxCount=1,
                NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group],
                                    "AssociatePublicIpAddress": True}],
                BlockDeviceMappings=root_volume(ec2, ami),
                MetadataOptions={"HttpTokens": "required"},
                TagSpecifications=tag_spec("instance", name) + tag_spec("volume", name), **extra)
            return resp["Instances"][0]["InstanceId"]
        except ClientError as err:
            if profile and err.response["Error"]["Code"] == "UnauthorizedOperation":
                # most likely no iam:PassRole for the profile (AWS encodes the reason): go without it
                print("warning: not allowed to give the box its instance profile; "
                      "the idle guard will judge it by its CPU alone")
                extra.pop("IamInstanceProfile")
                profile = None
                continue
            young_profile = profile and "iaminstanceprofile" in err.response["Error"].get("Message", "").lower()
            if not young_profile or attempt == IAM_TRIES - 1:
                raise
            time.sleep(IAM_WAIT_S)
    raise SetupError(f"EC2 did not accept the new instance profile {profile} in time; run `up` again.")


def launch_in_some_zone(session, ec2, args, subnets, **pieces) -> str:
    """Launch in the first zone with capacity; when none has any, say which regions offer the type."""
    tried, refusal = [], None
    for zone, subnet in subnets:
        try:
            return launch(ec2, args.name, itype=args.type, subnet=subnet, spot=args.spot,
                          max_price=args.max_price, **pieces)
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code in ("VcpuLimitExceeded", "MaxSpotInstanceCountExceeded"):
                raise SetupError(quota_message(err, args.type, args.region, args.spot)) from None
            if code != "InsufficientInstanceCapacity":
                raise
            tried.append(zone)
            refusal = err
            print(f"No spare {args.type} capacity in {zone}; trying another zone ...")
    others = regions_offering(session, args.type, args.region)
    where = (f" {args.type} is also offered in {', '.join(others)} (e.g. --region {others[0]})."
             if others else "")
    if refusal is None:
        raise SetupError(f"No subnet to launch {args.type} into in {args.region}; run `down`, then `up` again.")
    raise SetupError(f"Tried every zone offering {args.type} in {args.region} ({', '.join(map(str, tried))}). "
                     + quota_message(refusal, args.type, args.region, args.spot) + where)


def wait(ec2, waiter: str, instance_id: str) -> dict:
    """Wait for `waiter` on the instance; return its fresh description."""
    ec2.get_waiter(waiter).wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    return describe_instance(ec2, instance_id)


def describe_instance(ec2, instance_id: str) -> dict:
    """The instance as EC2 describes it now."""
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def mark_started(ec2, inst: dict) -> None:
    """Record that this start was the kit's, so `status` can tell AWS's own restarts apart."""
    ec2.create_tags(Resources=[inst["InstanceId"]],
                    Tags=[{"Key": STARTED_TAG, "Value": inst["LaunchTime"].isoformat()}])


def start(ec2, inst: dict) -> dict:
    """Bring a stopped (or stopping) instance back to running."""
    state = inst["State"]["Name"]
    if state == "stopping":
        inst = wait(ec2, "instance_stopped", inst["InstanceId"])
        state = "stopped"
    if state == "stopped":
        ec2.start_instances(InstanceIds=[inst["InstanceId"]])
        print(f"Starting {inst['InstanceId']} ...")
    inst = wait(ec2, "instance_running", inst["InstanceId"])
    if state == "stopped":
        mark_started(ec2, inst)
    return inst


# --- what `status` says -------------------------------------------------------

def ssh_command(key: Path, ip: str, tunnel: bool = False) -> list[str]:
    """The ssh argv for logging in, or for forwarding Jupyter's port."""
    cmd = ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=accept-new"]
    if tunnel:
        cmd += ["-N", "-L", f"{JUPYTER_PORT}:localhost:{JUPYTER_PORT}"]
    return cmd + [f"{SSH_USER}@{ip}"]


def describe(inst: dict, key: Path, name: str, region: str) -> str:
    """A few lines: state, type, IP and how to connect."""
    ip = inst.get("PublicIpAddress")
    spot = ", spot" if inst.get("InstanceLifecycle") == "spot" else ""
    lines = [f"{name} in {region}: {inst['InstanceId']}  {inst['InstanceType']}{spot}  "
             f"{inst['State']['Name']}  ip={ip or '-'}"]
    if ip:
        lines += [f"  ssh:    {shlex.join(ssh_command(key, ip))}",
                  f"  tunnel: {shlex.join(ssh_command(key, ip, tunnel=True))}",
                  f"          then open http://localhost:{JUPYTER_PORT} here"]
    return "\n".join(lines)


def spot_history(ec2, inst: dict) -> list[str]:
    """Lines saying when AWS interrupted (stopped) or restarted a spot box on its own."""
    if inst.get("InstanceLifecycle") != "spot":
        return []
    lines = []
    reason = inst.get("StateReason", {})
    if inst["State"]["Name"] in ("stopping", "stopped") and reason.get("Code") in SPOT_STOP_REASONS:
        when = inst.get("StateTransitionReason", "")
        lines.append(f"  spot: AWS interrupted it ({reason.get('Message', reason['Code'])}) {when}; "
                     "it starts again by itself when capacity returns, and the idle guard still watches it")
    request_id = inst.get("SpotInstanceRequestId")
    if request_id:
        try:
            req = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=[request_id])["SpotInstanceRequests"][0]
            status = req.get("Status", {})
            lines.append(f"  spot request {request_id}: {status.get('Code')} since {status.get('UpdateTime')}: "
                         f"{status.get('Message', '')}")
        except (ClientError, IndexError):
            pass
    ours = next((t["Value"] for t in inst.get("Tags", []) if t["Key"] == STARTED_TAG), None)
    launched = inst["LaunchTime"]
    if inst["State"]["Name"] in ("pending", "running") and ours and launched > datetime.fromisoformat(ours):
        lines.append(f"  spot: AWS restarted it at {launched:%Y-%m-%d %H:%M UTC} after an interruption "
                     "(work since the last save may be lost); it is billed again")
    return lines


def self_command(args, sub: str) -> str:
    """This script's command line for subcommand `sub` with the same region and name."""
    name = f" --name {args.name}" if args.name != DEFAULT_NAME else ""
    return f"python setup/aws.py --region {args.region}{name} {sub}"


def stop_reminder(args) -> str:
    """The reminder that a running GPU box costs money."""
    return (f"Remember: `{self_command(args, 'stop')}` when you are done; "
            "a running GPU instance is billed by the second.")


def rescue_hint(args, instance_id: str) -> str:
    """What to run when `up` failed after the box already exists (and may be billing)."""
    return (f"{instance_id} was launched and may be running (and billed). Check it with "
            f"`{self_command(args, 'status')}`, stop it with `{self_command(args, 'stop')}`, "
            f"or delete everything with `{self_command(args, 'down')}`.")


# --- subcommands -------------------------------------------------------------

def reuse_box(args, session, ec2, inst: dict, cidr: str, path: Path) -> None:
    """Bring the existing box's key, firewall and instance profile up to date."""
    ensure_key_pair(ec2, args.name, path)
    ensure_security_group(ec2, args.name, None, cidr)
    if args.idle_stop:
        attach_profile(ec2, inst, ensure_metrics_profile(session.client("iam"), args.name, args.region))
    print(f"Reusing {inst['InstanceId']} ({inst['State']['Name']})")
    if inst["InstanceType"] != args.type:
        print(f"  it is a {inst['InstanceType']}; to switch to {args.type}, run `down` first")


def launch_box(args, session, ec2, cidr: str, path: Path, confirm, price) -> str | None:
    """Show the price, ask, then make the pieces and launch; the new id, or None if declined."""
    zones = check_offered(ec2, args.type, args.region)
    ami = check_ami(ec2, args.ami) if args.ami else find_ami(session.client("ssm"), ec2, args.region)
    print(price_line(price(session, args.type, args.region, args.spot, zones),
                     args.type, args.region, args.spot, args.max_price))
    if not args.yes and not confirm("Launch it? [y/N] "):
        print("Nothing launched.")
        return None
    vpc_id, subnets = network(ec2, args.name, zones)
    group = ensure_security_group(ec2, args.name, vpc_id, cidr)
    key = ensure_key_pair(ec2, args.name, path)
    profile = ensure_metrics_profile(session.client("iam"), args.name, args.region) if args.idle_stop else None
    instance_id = launch_in_some_zone(session, ec2, args, subnets, ami=ami, group=group, key=key, profile=profile)
    print(f"Launched {instance_id} ({args.type}{', spot' if args.spot else ''}, {ami}); waiting ...")
    return instance_id


def cmd_up(args, session, fetch_ip, confirm, price) -> int:
    """Create or reuse the box, guard it against idling, and start it."""
    ec2 = session.client("ec2")
    cidr = ssh_cidr(args.cidr, fetch_ip, allow_wide=args.allow_wide_cidr)
    path = key_path(args.key_dir, args.name, args.region)
    repair_own_network(ec2, args.name)
    inst = find_instance(ec2, args.name)
    if inst:
        reuse_box(args, session, ec2, inst, cidr, path)
        instance_id = inst["InstanceId"]
    else:
        instance_id = launch_box(args, session, ec2, cidr, path, confirm, price)
        if instance_id is None:
            return 1
    try:
        watched = bool(describe_instance(ec2, instance_id).get("IamInstanceProfile"))
        print(ensure_idle_alarm(session.client("cloudwatch"), args.name, instance_id, args.region, args.idle_stop,
                                gpu_watched=watched))
        if inst:
            inst = start(ec2, inst)
        else:
            inst = wait(ec2, "instance_running", instance_id)
            mark_started(ec2, inst)
    except BaseException:
        print(f"error: {rescue_hint(args, instance_id)}", file=sys.stderr)
        raise
    print(describe(inst, path, args.name, args.region))
    warning = ipv6_warning(inst, cidr)
    if warning:
        print(warning, file=sys.stderr)
    print("On the box: clone the kit, then run setup/install-gpu.sh")
    print(stop_reminder(args))
    return 0


def require_instance(ec2, args) -> dict:
    """The oldest tagged live instance, or a SetupError saying to run `up`."""
    inst = find_instance(ec2, args.name)
    if not inst:
        raise SetupError(f"No {args.name} instance in {args.region}; run `{self_command(args, 'up')}` first.")
    return inst


def cmd_status(args, session, fetch_ip, confirm, price) -> int:
    """Print every tagged instance's state, idle guard, spot history and how to connect."""
    ec2 = session.client("ec2")
    found = find_instances(ec2, args.name)
    if not found:
        print(f"No {args.name} instance in {args.region}.")
        return 0
    cw = session.client("cloudwatch")
    for inst in found:
        print(describe(inst, key_path(args.key_dir, args.name, args.region), args.name, args.region))
        for line in spot_history(ec2, inst):
            print(line)
        print("  " + guard_line(idle_alarm(cw, args.name, inst["InstanceId"]),
                                gpu_watched=bool(inst.get("IamInstanceProfile"))))
    if len(found) > 1:
        print(f"{len(found)} instances carry the tag {TAG_KEY}={tag_value(args.name)}; "
              "`stop` stops them all, `down` deletes them all.")
    if any(i["State"]["Name"] in ("pending", "running") for i in found):
        print(stop_reminder(args))
    return 0


def cmd_connect(args, session, fetch_ip, confirm, price) -> int:
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


def cmd_stop(args, session, fetch_ip, confirm, price) -> int:
    """Stop every tagged instance (their disks are kept)."""
    ec2 = session.client("ec2")
    found = find_instances(ec2, args.name)
    if not found:
        raise SetupError(f"No {args.name} instance in {args.region}; nothing to stop.")
    ids = [i["InstanceId"] for i in found]
    busy = [i["InstanceId"] for i in found if i["State"]["Name"] in ("pending", "running")]
    if busy:
        ec2.stop_instances(InstanceIds=busy)
        print(f"Stopping {', '.join(busy)} ...")
    ec2.get_waiter("instance_stopped").wait(InstanceIds=ids, WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    print(f"{', '.join(ids)} stopped; the GPU is no longer billed (the disk still is, a little).")
    return 0


def cmd_start(args, session, fetch_ip, confirm, price) -> int:
    """Start the (oldest) stopped instance."""
    ec2 = session.client("ec2")
    inst = start(ec2, require_instance(ec2, args))
    print(describe(inst, key_path(args.key_dir, args.name, args.region), args.name, args.region))
    print(stop_reminder(args))
    return 0


def tagged(ec2, iam, name: str, region: str) -> dict[str, list]:
    """Everything in the region that carries this kit's tag, by kind (and the box's IAM role)."""
    f = tag_filter(name)
    try:
        profiles = [iam.get_instance_profile(InstanceProfileName=profile_name(name, region))["InstanceProfile"]]
    except ClientError:  # none, or no right to look: nothing of ours to delete there
        profiles = []
    states = {"Name": "instance-state-name", "Values": LIVE_STATES + ["shutting-down"]}
    return {
        "instances": [i for r in ec2.describe_instances(Filters=f + [states])["Reservations"]
                      for i in r["Instances"]],
        "security groups": ec2.describe_security_groups(Filters=f)["SecurityGroups"],
        "key pairs": ec2.describe_key_pairs(Filters=f)["KeyPairs"],
        "subnets": ec2.describe_subnets(Filters=f)["Subnets"],
        "internet gateways": ec2.describe_internet_gateways(Filters=f)["InternetGateways"],
        "vpcs": ec2.describe_vpcs(Filters=f)["Vpcs"],
        "IAM instance profiles": profiles,
    }


def resource_id(item: dict) -> str:
    """The id of an EC2 description of any of the kinds in `tagged`."""
    for key in ("InstanceId", "GroupId", "KeyName", "SubnetId", "InternetGatewayId", "VpcId", "InstanceProfileName"):
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


def remove(ec2, cw, iam, name: str, region: str, found: dict[str, list], pem: Path) -> None:
    """Delete the tagged resources in dependency order."""
    ids = [i["InstanceId"] for i in found["instances"]]
    spot = [i["SpotInstanceRequestId"] for i in found["instances"] if i.get("SpotInstanceRequestId")]
    if spot:
        ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=spot)
    if ids:
        ec2.terminate_instances(InstanceIds=ids)
        print(f"Terminating {', '.join(ids)} ...")
        ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig={"Delay": 5, "MaxAttempts": 120})
        delete_idle_alarms(cw, name, ids)
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
    if found["IAM instance profiles"]:
        delete_metrics_profile(iam, name, region)


def cmd_down(args, session, fetch_ip, confirm, price) -> int:
    """Delete everything carrying the tag, after confirmation."""
    ec2 = session.client("ec2")
    iam = session.client("iam")
    found = tagged(ec2, iam, args.name, args.region)
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
    remove(ec2, session.client("cloudwatch"), iam, args.name, args.region, found,
           key_path(args.key_dir, args.name, args.region))
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


def minutes_arg(text: str) -> int:
    """Accept 0 (off) or a whole number of minutes from 5 to 1440."""
    if not text.isdigit() or not (int(text) == 0 or 5 <= int(text) <= 1440):
        raise argparse.ArgumentTypeError("give 0 (off) or whole minutes from 5 to 1440")
    return int(text)


def price_arg(text: str) -> float:
    """Accept a positive USD amount per hour."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError("give US dollars per hour, e.g. 1.5")
    return value


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
    up.add_argument("--allow-wide-cidr", action="store_true", help="accept a --cidr wider than /24 (IPv6: /56)")
    up.add_argument("--idle-stop", type=minutes_arg, default=DEFAULT_IDLE_MINUTES, metavar="MINUTES",
                    help=f"stop the box after this many idle minutes (default {DEFAULT_IDLE_MINUTES}; 0 = never)")
    up.add_argument("--max-price", type=price_arg, metavar="USD",
                    help="launch types costing up to this per hour (default cap 2.00), or of unknown price")
    up.add_argument("--yes", action="store_true", help="launch without asking")
    sub.add_parser("status", help="show every tagged box: state, IP, idle guard, connect commands")
    for cmd, text in (("ssh", "log in to the box"), ("tunnel", f"forward localhost:{JUPYTER_PORT} to Jupyter")):
        sp = sub.add_parser(cmd, help=text)
        sp.add_argument("--print", action="store_true", help="only print the ssh command")
    sub.add_parser("stop", help="stop every tagged box (disks kept)")
    sub.add_parser("start", help="start the stopped box")
    down = sub.add_parser("down", help="delete everything this script created")
    down.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return p


def main(argv=None, *, session=None, fetch_ip=fetch_public_ip, confirm=ask_yes_no, price=hourly_price) -> int:
    """Parse arguments, run one subcommand, turn known failures into one-line errors."""
    args = parser().parse_args(argv)
    try:
        session = session or boto3.Session(region_name=args.region)
        args.region = session.region_name
        if not args.region:
            raise NoRegionError()
        check_region(session, args.region)
        return COMMANDS[args.command](args, session, fetch_ip, confirm, price)
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
