"""One module per dataset: its real layout and preparation, and a stand-in of the same layout."""
from utils.datasets.standin import DATA_MODES, banner, is_standin

__all__ = ["DATA_MODES", "banner", "is_standin"]
