"""Which versions of the packages the kit uses are installed here (the doctor, the Kaggle client's floor)."""
import importlib.metadata


def package_version(name):
    """Installed version of a distribution, or None when it is missing."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
