"""What `from utils import *` gives, for editors and type checkers to follow: the names the 2017
course typed, each from the module that defines it. utils/__init__.py loads them on first use;
tests/test_course_names.py holds this file equal to its table."""
from utils.arrays import load_array as load_array, save_array as save_array
from utils.ensemble import average_predictions as average_predictions, ensemble_predict as ensemble_predict
from utils.env import doctor as doctor, setup as setup
from utils.images import get_batches as get_batches, get_classes as get_classes, get_data as get_data
from utils.kaggle.fetching import fetch as fetch
from utils.kaggle.submission import do_clip as do_clip, make_submission as make_submission, submit as submit
from utils.learning_rate import fit_schedule as fit_schedule
from utils.lessons.lesson1 import onehot as onehot
from utils.models import Vgg16 as Vgg16
from utils.models.resnet50 import Resnet50 as Resnet50
from utils.models.surgery import (
    adjust_dropout as adjust_dropout,
    copy_layers as copy_layers,
    copy_model as copy_model,
    copy_weights as copy_weights,
    insert_layer as insert_layer,
    split_at as split_at,
    vgg_ft as vgg_ft,
)
from utils.models.vgg16bn import Vgg16BN as Vgg16BN, vgg_ft_bn as vgg_ft_bn
from utils.plotting import (
    plot as plot,
    plot_confusion_matrix as plot_confusion_matrix,
    plot_history as plot_history,
    plots as plots,
)
from utils.pseudo import MixIterator as MixIterator
from utils.training import set_lr as set_lr

__all__ = [
    'save_array', 'load_array', 'setup', 'doctor', 'get_batches', 'get_data', 'get_classes',
    'onehot', 'fetch', 'do_clip', 'make_submission', 'submit', 'Vgg16', 'Vgg16BN', 'vgg_ft_bn',
    'Resnet50', 'plots', 'plot', 'plot_confusion_matrix', 'plot_history', 'set_lr',
    'MixIterator', 'split_at', 'vgg_ft', 'adjust_dropout', 'copy_layers', 'copy_weights',
    'copy_model', 'insert_layer', 'ensemble_predict', 'average_predictions', 'fit_schedule',
]
