"""What names a stand-in: a short hash of the code that draws it and the settings it is drawn with."""
import hashlib
import inspect


def recipe(*code, **settings):
    """A short hash of a stand-in's generating code (functions, or the tables they draw from) and
    settings: it changes when any of them does."""
    text = "".join(inspect.getsource(c) if callable(c) else repr(c) for c in code)
    return hashlib.sha256((text + repr(sorted(settings.items()))).encode()).hexdigest()[:16]
