"""What names a stand-in: a short hash of the code that draws it and the settings it is drawn with."""
import hashlib
import inspect


def recipe(*functions, **settings):
    """A short hash of a stand-in's generating code and settings: it changes when either does."""
    text = "".join(inspect.getsource(f) for f in functions) + repr(sorted(settings.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
