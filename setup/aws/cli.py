"""Start, reach and remove a single-GPU box on AWS for the course.

Usage (from the repo root, with AWS credentials configured, e.g. `aws configure`):

    python -m setup.aws up                 # create or reuse the box, start it if stopped
    python -m setup.aws status             # state, IP, price guard, and the ssh / tunnel commands
    python -m setup.aws ssh                # log in (ubuntu@<ip>)
    python -m setup.aws tunnel             # forward localhost:8888 to Jupyter on the box
    python -m setup.aws stop               # stop paying for the GPU (the disk is kept)
    python -m setup.aws start              # start it again (the public IP changes)
    python -m setup.aws down               # delete everything this script created

Global options: --region (default: your AWS config / AWS_DEFAULT_REGION),
--name (default dl1-kit; names the tag, key pair and security group), --key-dir.
`up` options: --type (default g5.xlarge), --spot, --ami, --cidr, --allow-wide-cidr,
--idle-stop MINUTES (default 60; 0 = off), --max-price USD_PER_HOUR, --yes.

The AMI is the AWS Deep Learning Base GPU AMI (Ubuntu 24.04, else 22.04; NVIDIA
driver included), looked up in the chosen region at run time. The security group
admits only SSH (TCP 22) and only from your public IP (or --cidr); Jupyter
stays on the box's 127.0.0.1 and is reached through `tunnel`. The root disk is
encrypted. Before launching, `up` shows the hourly price and asks; a CloudWatch
alarm stops the box after an hour with CPU and GPU idle (setup/aws/guard.py). Every
resource created carries the
tag Project=dl1-kit:<name>; `up` reuses what exists and `down` deletes only what
carries the tag. Run setup/install-gpu.sh on the box.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from datetime import datetime
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from setup.aws.base import TAG_KEY, SetupError, tag_value
from setup.aws.box import (
    DEFAULT_NAME,
    DEFAULT_TYPE,
    JUPYTER_PORT,
    SPOT_STOP_REASONS,
    SSH_USER,
    STARTED_TAG,
    check_ami,
    check_offered,
    check_region,
    describe_instance,
    ensure_key_pair,
    find_ami,
    find_instance,
    find_instances,
    key_path,
    launch_in_some_zone,
    mark_started,
    remove,
    resource_id,
    start,
    tagged,
    wait,
)
from setup.aws.guard import (
    DEFAULT_IDLE_MINUTES,
    attach_profile,
    ensure_idle_alarm,
    ensure_metrics_profile,
    guard_line,
    idle_alarm,
)
from setup.aws.network import (
    ensure_security_group,
    fetch_public_ip,
    ipv6_warning,
    network,
    repair_own_network,
    ssh_cidr,
)
from setup.aws.price import hourly_price, price_line

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
    return f"python -m setup.aws --region {args.region}{name} {sub}"


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
    p = argparse.ArgumentParser(prog="python -m setup.aws", description="Manage the course's GPU box on AWS.")
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
