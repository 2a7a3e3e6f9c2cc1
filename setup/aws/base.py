"""What every part of setup/aws/ shares: the tag marking the kit's resources, and its error type."""
from __future__ import annotations

TAG_KEY = "Project"


class SetupError(Exception):
    """A problem reported to the user as one message, without a traceback."""


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
