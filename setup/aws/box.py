"""The box's lifecycle on EC2: the region and AMI checks, the key pair, launching, starting and
waiting for the instance, and removing everything the kit tagged. The command line (cli.py) drives it."""
from __future__ import annotations

import difflib
import os
import time
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from setup.aws.base import SetupError, tag_filter, tag_spec
from setup.aws.guard import delete_idle_alarms, delete_metrics_profile, profile_name

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


# --- removing what the kit made ---------------------------------------------
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
