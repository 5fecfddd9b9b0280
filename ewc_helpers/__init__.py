"""ewc_helpers: the code behind the catastrophic-forgetting and EWC notebooks.

Modules, in the one direction data flows through them::

    data -> models -> fisher / penalties -> training -> evaluation -> plots -> experiments

Import :mod:`ewc_helpers` before TensorFlow to keep TensorFlow's start-up notices quiet.
"""

from . import _env  # noqa: F401  (must run before TensorFlow is imported)

__version__ = "0.1.0"
