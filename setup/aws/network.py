"""Where the box sits and who may reach it: the SSH source network, VPC, subnets, gateway, firewall."""
from __future__ import annotations

import ipaddress
import urllib.request
from collections.abc import Iterator

from botocore.exceptions import ClientError

from setup.aws.base import TAG_KEY, SetupError, tag_filter, tag_spec, tag_value

VPC_CIDR = "10.77.0.0/16"
IP_URL = "https://checkip.amazonaws.com"
WIDEST_PREFIX = {4: 24, 6: 56}  # the widest SSH source allowed without --allow-wide-cidr


# --- where SSH is allowed from ------------------------------------------------

def fetch_public_ip(timeout: float = 5.0) -> str:
    """Ask checkip.amazonaws.com for this machine's public IP address."""
    with urllib.request.urlopen(IP_URL, timeout=timeout) as resp:  # noqa: S310 (fixed https URL)
        return resp.read(64).decode("ascii", "replace").strip()


def parse_cidr(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """--cidr as a network; an address with host bits set is refused, never silently widened."""
    try:
        return ipaddress.ip_network(cidr)
    except ValueError:
        pass
    try:
        iface = ipaddress.ip_interface(cidr)
    except ValueError:
        raise SetupError(f"--cidr {cidr!r} is not a network such as 203.0.113.7/32.") from None
    one = f"{iface.ip}/{iface.max_prefixlen}"
    raise SetupError(f"--cidr {cidr} names one address with a network prefix. For that address alone give "
                     f"--cidr {one}; for the whole network give --cidr {iface.network} "
                     f"({iface.network.num_addresses} addresses).")


def ssh_cidr(cidr: str | None, fetch_ip=fetch_public_ip, allow_wide: bool = False) -> str:
    """The one network SSH is opened to: --cidr, else this machine's IP as /32 (/128)."""
    if cidr:
        net = parse_cidr(cidr)
        if net.prefixlen == 0:
            raise SetupError("--cidr must not open SSH to the whole internet; give your own IP, e.g. 203.0.113.7/32.")
        widest = WIDEST_PREFIX[net.version]
        if net.prefixlen < widest and not allow_wide:
            raise SetupError(f"--cidr {net} admits {net.num_addresses:,} addresses; SSH is opened at most to a "
                             f"/{widest} here. Give your own address (e.g. {net.network_address}/{net.max_prefixlen}), "
                             "or add --allow-wide-cidr if you really mean that network.")
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


def ipv6_warning(inst: dict, cidr: str) -> str | None:
    """A warning when SSH is allowed only from IPv6 but the box has no IPv6 address."""
    if ipaddress.ip_network(cidr).version != 6:
        return None
    if any(ni.get("Ipv6Addresses") for ni in inst.get("NetworkInterfaces", [])):
        return None
    return (f"warning: SSH is allowed only from {cidr} (IPv6), but {inst['InstanceId']} has no IPv6 address, "
            "so nothing can reach it. Give your IPv4 address instead, e.g. --cidr 203.0.113.7/32.")


# --- VPC, subnets, internet gateway -------------------------------------------

def default_subnets(ec2) -> tuple[str, list[dict]] | None:
    """The default VPC and its default subnets, if the region still has them."""
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        return None
    vpc_id = vpcs[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                            {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return (vpc_id, subnets) if subnets else None


def in_zones(subnets: list[dict], zones: list[str]) -> Iterator[tuple[str, str]]:
    """(zone, subnet id) for the subnets in `zones`, in zone order; else the first subnet."""
    good = sorted((s for s in subnets if s["AvailabilityZone"] in zones),
                  key=lambda s: zones.index(s["AvailabilityZone"]))
    for s in good or subnets[:1]:
        yield s["AvailabilityZone"], s["SubnetId"]


def own_vpc(ec2, name: str) -> str:
    """Reuse or create the tagged VPC."""
    vpcs = ec2.describe_vpcs(Filters=tag_filter(name))["Vpcs"]
    if vpcs:
        return vpcs[0]["VpcId"]
    vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=tag_spec("vpc", name))["Vpc"]["VpcId"]
    ec2.get_waiter("vpc_available").wait(VpcIds=[vpc_id])
    print(f"Created VPC {vpc_id}")
    return vpc_id


def ensure_gateway(ec2, name: str, vpc_id: str) -> str:
    """Make sure the tagged VPC has a tagged internet gateway, attached, and a default route to it."""
    igws = ec2.describe_internet_gateways(Filters=tag_filter(name))["InternetGateways"]
    if igws:
        igw = igws[0]
    else:
        igw = ec2.create_internet_gateway(TagSpecifications=tag_spec("internet-gateway", name))["InternetGateway"]
        print(f"Created internet gateway {igw['InternetGatewayId']}")
    igw_id = igw["InternetGatewayId"]
    attached = [a["VpcId"] for a in igw.get("Attachments", []) if a.get("State") != "detached"]
    if vpc_id not in attached:
        for other in attached:  # a tagged gateway on some other VPC is of no use to the box
            ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=other)
        ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
        if igws:
            print(f"Internet gateway {igw_id} was not attached to {vpc_id}; attached it")
    ensure_default_route(ec2, vpc_id, igw_id)
    return igw_id


def ensure_default_route(ec2, vpc_id: str, igw_id: str) -> None:
    """Point the VPC's main route table's 0.0.0.0/0 at the internet gateway."""
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                               {"Name": "association.main", "Values": ["true"]}])["RouteTables"][0]
    routes = [r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    if not routes:
        ec2.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    elif routes[0].get("GatewayId") != igw_id or routes[0].get("State") == "blackhole":
        ec2.replace_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    else:
        return
    print(f"Default route of {vpc_id} now goes through {igw_id}")


def repair_own_network(ec2, name: str) -> None:
    """If the kit made its own VPC, check its gateway and route (an interrupted run can leave them out)."""
    for vpc in ec2.describe_vpcs(Filters=tag_filter(name))["Vpcs"]:
        ensure_gateway(ec2, name, vpc["VpcId"])


def own_subnets(ec2, name: str, vpc_id: str, zones: list[str]) -> Iterator[tuple[str, str]]:
    """(zone, subnet id) in each zone offering the type; a tagged public subnet is made when first needed."""
    mine = ec2.describe_subnets(Filters=tag_filter(name) + [{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    by_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in mine}
    used = {s["CidrBlock"] for s in mine}
    for zone in sorted(zones or [None], key=lambda z: z not in by_zone):
        if zone in by_zone:
            yield zone, by_zone[zone]
            continue
        cidr = next(f"10.77.{k}.0/24" for k in range(256) if f"10.77.{k}.0/24" not in used)
        used.add(cidr)
        extra = {"AvailabilityZone": zone} if zone else {}
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, TagSpecifications=tag_spec("subnet", name),
                                   **extra)["Subnet"]
        ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True})
        yield subnet["AvailabilityZone"], subnet["SubnetId"]


def network(ec2, name: str, zones: list[str]) -> tuple[str, Iterator[tuple[str, str]]]:
    """The VPC to launch into and its (zone, subnet) choices: the default VPC if present, else our own."""
    found = default_subnets(ec2)
    if found:
        return found[0], in_zones(found[1], zones)
    vpc_id = own_vpc(ec2, name)
    ensure_gateway(ec2, name, vpc_id)
    return vpc_id, own_subnets(ec2, name, vpc_id, zones)


# --- firewall ------------------------------------------------------------------

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
