"""dl1-kit's helpers: `from utils import *` gives the names the 2017 course's videos typed.

Names load on first use, so `import utils.arrays` alone does not start TensorFlow.
"""
import importlib

_HOMES = {
    "utils.arrays": ["save_array", "load_array"],
    "utils.env": ["setup", "doctor"],
    "utils.images": ["get_batches", "get_data", "get_classes"],
    "utils.lessons.lesson1": ["onehot"],
    "utils.kaggle.fetching": ["fetch"],
    "utils.kaggle.submission": ["do_clip", "make_submission", "submit"],
    "utils.models": ["Vgg16"],
    "utils.models.vgg16bn": ["Vgg16BN", "vgg_ft_bn"],
    "utils.models.resnet50": ["Resnet50"],
    "utils.plotting": ["plots", "plot", "plot_confusion_matrix", "plot_history"],
    "utils.training": ["set_lr"],
    "utils.pseudo": ["MixIterator"],
    "utils.models.surgery": ["split_at", "vgg_ft", "adjust_dropout", "copy_layers",
                             "copy_weights", "copy_model", "insert_layer"],
    "utils.ensemble": ["ensemble_predict", "average_predictions"],
    "utils.learning_rate": ["fit_schedule"],
}
_WHERE = {name: module for module, names in _HOMES.items() for name in names}
__all__ = list(_WHERE)


def __getattr__(name):
    """Import a course name from its module the first time it is asked for."""
    if name not in _WHERE:
        raise AttributeError(f"module 'utils' has no attribute {name!r}")
    from utils.env import native_logs_silenced  # the course names load on first use
    with native_logs_silenced():  # the first name that needs Keras starts TensorFlow
        value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
