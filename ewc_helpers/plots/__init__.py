"""Figures for the lessons. Every function returns the matplotlib Figure it drew.

Plots read the results of :mod:`ewc_helpers.studies` through their attributes; they never train.
"""

from .core import *  # noqa: F401,F403
from .sequences import *  # noqa: F401,F403
from .sensitivity import *  # noqa: F401,F403
from .toy import *  # noqa: F401,F403
from .scenarios import *  # noqa: F401,F403
from .lessons import *  # noqa: F401,F403

# Every plotting function draws in the course's style (text that reads on a projector, sharp PNGs):
# wrap each public function of the submodules once, in the package and in its own module.
from . import core as _core, lessons as _lessons, scenarios as _scenarios, sensitivity as _sensitivity  # noqa: E402
from . import sequences as _sequences, toy as _toy  # noqa: E402

for _module in (_core, _sequences, _sensitivity, _toy, _scenarios, _lessons):
    for _name in getattr(_module, "__all__", ()):
        _value = getattr(_module, _name)
        if callable(_value) and not isinstance(_value, type) and _name not in ("method_color", "colors_for",
                                                                              "styled", "use_retina"):
            _value = _core.styled(_value)
            setattr(_module, _name, _value)
            globals()[_name] = _value
del _module, _name, _value
