"""What the box costs per hour, and the cap above which `up` refuses to launch it."""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone

from botocore.config import Config

from setup.aws.base import SetupError

# USD/hour. Every single-GPU xlarge the kit suggests (g4dn, g5, g6, g6e) costs less on demand in the
# common regions; a p3/p4/p5 or a multi-GPU type costs several times more and needs --max-price.
DEFAULT_CAP = 2.0
QUICK = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1})


def on_demand_price(session, itype: str, region: str) -> float | None:
    """On-demand Linux USD/hour from the Pricing API, or None if it does not answer."""
    try:
        pricing = session.client("pricing", region_name="us-east-1", config=QUICK)
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
    except Exception:  # unreachable, no permission, odd answer: the caller treats None as too dear
        return None
    return None


def spot_price(session, itype: str, region: str, zones: list[str]) -> float | None:
    """Today's highest Linux spot price of `itype` over `zones`, or None if unknown."""
    try:
        ec2 = session.client("ec2", region_name=region, config=QUICK)
        resp = ec2.describe_spot_price_history(InstanceTypes=[itype], StartTime=datetime.now(timezone.utc),
                                               ProductDescriptions=["Linux/UNIX", "Linux/UNIX (Amazon VPC)"])
        prices = [float(p["SpotPrice"]) for p in resp["SpotPriceHistory"]
                  if not zones or p["AvailabilityZone"] in zones]
    except Exception:  # as above: unknown, never free
        return None
    return max(prices) if prices else None


def hourly_price(session, itype: str, region: str, spot: bool, zones: list[str]) -> float | None:
    """The hourly price `up` would pay: spot or on demand."""
    return spot_price(session, itype, region, zones) if spot else on_demand_price(session, itype, region)


def price_line(price: float | None, itype: str, region: str, spot: bool, max_price: float | None) -> str:
    """The price to show before launching; a SetupError if it is above the cap or unknown without --max-price."""
    kind = "spot" if spot else "on demand"
    cap = DEFAULT_CAP if max_price is None else max_price
    if price is None:
        if max_price is None:
            raise SetupError(f"Could not get the hourly {kind} price of {itype} in {region} (the AWS Pricing API "
                             "did not answer, or your credentials may not read it); an unknown price is not "
                             "taken as cheap. If you know what it costs, pass --max-price USD_PER_HOUR to "
                             "launch anyway.")
        return (f"{itype} in {region}: {kind} price UNKNOWN (could not be looked up); launching because "
                f"--max-price {cap:g} was given" + (" (the spot request will not pay more)" if spot else ""))
    if price > cap:
        more = math.ceil(price * 100) / 100
        raise SetupError(f"{itype} costs about ${price:.3f}/hour {kind} in {region}, above the cap of "
                         f"${cap:.2f}/hour. Pick a cheaper --type (e.g. g4dn.xlarge or g5.xlarge), "
                         f"or pass --max-price {more:.2f} to accept it.")
    return (f"{itype} in {region}: about ${price:.3f}/hour {kind} "
            f"(${price * 24:.2f} a day if left running)")
