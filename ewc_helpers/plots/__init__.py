"""Figures for the lessons. Every function returns the matplotlib Figure it drew.

Plots read the results of :mod:`ewc_helpers.studies` through their attributes; they never train.
"""

from .core import *  # noqa: F401,F403
from .sequences import *  # noqa: F401,F403
from .sensitivity import *  # noqa: F401,F403
from .toy import *  # noqa: F401,F403
from .scenarios import *  # noqa: F401,F403
from .lessons import *  # noqa: F401,F403
